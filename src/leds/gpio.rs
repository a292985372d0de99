//! LEDs on GPIO pins (BCM numbering) through rppal, active-high or active-low. Off a
//! Raspberry Pi, opening fails with a clear message; a pin already in use is an error naming
//! the pin and the key.

use std::io;

use super::{Color, Leds, PinsConfig, COLORS};

pub struct GpioLeds {
    #[cfg(target_os = "linux")]
    pins: Vec<(Color, u8, rppal::gpio::OutputPin)>,
    active_low: bool,
}

/// The message for an rppal error while taking `pin` for `color`.
#[cfg(target_os = "linux")]
pub fn pin_error(e: &rppal::gpio::Error, color: Color, pin: u8) -> String {
    use rppal::gpio::Error as E;
    let key = format!("leds.pins.{}", color.name());
    match e {
        E::UnknownModel => "leds.backend = \"gpio\": this machine is not a Raspberry Pi \
             (its model is unknown to rppal); use leds.backend = \"sysfs\", \"terminal\" or \"none\""
            .to_string(),
        E::PinUsed(p) => format!("key `{key}`: GPIO pin {p} (BCM) is already in use"),
        E::PinNotAvailable(p) => {
            format!("key `{key}`: GPIO pin {p} (BCM) does not exist on this board")
        }
        E::PermissionDenied(path) => format!(
            "key `{key}`: GPIO pin {pin}: permission denied on {path} \
             (add the ravn user to the gpio group)"
        ),
        other => format!("key `{key}`: GPIO pin {pin}: {other}"),
    }
}

impl GpioLeds {
    #[cfg(target_os = "linux")]
    pub fn open(cfg: &PinsConfig, active_low: bool) -> Result<GpioLeds, String> {
        let gpio = rppal::gpio::Gpio::new().map_err(|e| match e {
            rppal::gpio::Error::UnknownModel => pin_error(&e, Color::Green, 0),
            other => format!("leds.backend = \"gpio\": cannot open the GPIO: {other}"),
        })?;
        let mut pins = Vec::new();
        for c in COLORS {
            let Some(n) = cfg.get(c) else { continue };
            let pin = gpio.get(n).map_err(|e| pin_error(&e, c, n))?;
            // start dark
            let out = if active_low {
                pin.into_output_high()
            } else {
                pin.into_output_low()
            };
            pins.push((c, n, out));
        }
        Ok(GpioLeds { pins, active_low })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn open(_: &PinsConfig, _: bool) -> Result<GpioLeds, String> {
        Err("leds.backend = \"gpio\" needs Linux on a Raspberry Pi".into())
    }
}

impl Leds for GpioLeds {
    #[cfg(target_os = "linux")]
    fn set(&mut self, color: Color, on: bool) -> io::Result<()> {
        let high = on != self.active_low;
        for (c, _, p) in self.pins.iter_mut() {
            if *c == color {
                if high {
                    p.set_high();
                } else {
                    p.set_low();
                }
            }
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn set(&mut self, _: Color, _: bool) -> io::Result<()> {
        Ok(())
    }

    fn describe(&self) -> String {
        #[cfg(target_os = "linux")]
        let pins: Vec<String> = self
            .pins
            .iter()
            .map(|(c, n, _)| format!("{}=BCM{n}", c.name()))
            .collect();
        #[cfg(not(target_os = "linux"))]
        let pins: Vec<String> = Vec::new();
        format!(
            "GPIO LEDs ({}, active-{})",
            pins.join(", "),
            if self.active_low { "low" } else { "high" }
        )
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn off_a_pi_gpio_is_a_clear_error_not_a_panic() {
        if super::super::is_raspberry_pi() {
            println!("SKIPPED: this is a Raspberry Pi");
            return;
        }
        let e = GpioLeds::open(&PinsConfig::default(), false).err().unwrap();
        assert!(e.contains("not a Raspberry Pi"), "{e}");
    }

    #[test]
    fn pin_in_use_names_the_pin_and_key() {
        let e = pin_error(&rppal::gpio::Error::PinUsed(27), Color::Red, 27);
        assert_eq!(
            e,
            "key `leds.pins.red`: GPIO pin 27 (BCM) is already in use"
        );
        let e = pin_error(&rppal::gpio::Error::PinNotAvailable(60), Color::Amber, 60);
        assert!(e.contains("leds.pins.amber") && e.contains("60"), "{e}");
    }
}
