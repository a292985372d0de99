//! Classic pcap files.
