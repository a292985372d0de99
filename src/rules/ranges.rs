//! Sets of inclusive integer ranges (IPv4 as u32, IPv6 as u128, ports as u16): the set algebra
//! behind Suricata's address and port group merging.

/// Integer types usable as range bounds.
pub trait Bound: Copy + Ord + std::fmt::Debug {
    const MIN: Self;
    const MAX: Self;
    fn succ(self) -> Self;
    fn pred(self) -> Self;
}

macro_rules! bound {
    ($t:ty) => {
        impl Bound for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn succ(self) -> Self {
                self.wrapping_add(1)
            }
            fn pred(self) -> Self {
                self.wrapping_sub(1)
            }
        }
    };
}
bound!(u16);
bound!(u32);
bound!(u128);

/// Sort and merge overlapping or adjacent ranges in place.
pub fn normalize<T: Bound>(v: &mut Vec<(T, T)>) {
    if v.len() < 2 {
        return;
    }
    v.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
    for &(a, b) in v.iter() {
        if let Some(last) = out.last_mut() {
            if a <= last.1 || (last.1 != T::MAX && a == last.1.succ()) {
                if b > last.1 {
                    last.1 = b;
                }
                continue;
            }
        }
        out.push((a, b));
    }
    *v = out;
}

/// `a − b`; both must be normalized. The result is normalized.
pub fn subtract<T: Bound>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &(lo, hi) in a {
        let mut cur = lo;
        let mut alive = true;
        while j < b.len() && b[j].1 < cur {
            j += 1;
        }
        let mut k = j;
        while alive && k < b.len() && b[k].0 <= hi {
            let (blo, bhi) = b[k];
            if blo > cur {
                out.push((cur, blo.pred()));
            }
            if bhi >= hi {
                alive = false;
            } else {
                cur = bhi.succ();
                k += 1;
            }
        }
        if alive {
            out.push((cur, hi));
        }
    }
    out
}

/// True when the (normalized) set is the whole space.
pub fn is_full<T: Bound>(v: &[(T, T)]) -> bool {
    v.len() == 1 && v[0] == (T::MIN, T::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_merges() {
        let mut v: Vec<(u16, u16)> = vec![(10, 20), (1, 5), (6, 9), (30, 40), (35, 36)];
        normalize(&mut v);
        assert_eq!(v, vec![(1, 20), (30, 40)]);
        let mut w: Vec<(u16, u16)> = vec![(0, 65535), (5, 6)];
        normalize(&mut w);
        assert_eq!(w, vec![(0, 65535)]);
    }

    #[test]
    fn subtract_cases() {
        let a: Vec<(u16, u16)> = vec![(0, 65535)];
        assert_eq!(subtract(&a, &[(80, 80)]), vec![(0, 79), (81, 65535)]);
        assert_eq!(subtract(&a, &[(0, 0)]), vec![(1, 65535)]);
        assert_eq!(subtract(&a, &[(65535, 65535)]), vec![(0, 65534)]);
        assert_eq!(subtract(&a, &[(0, 65535)]), vec![]);
        let b: Vec<(u16, u16)> = vec![(10, 20), (30, 40)];
        assert_eq!(subtract(&b, &[(15, 35)]), vec![(10, 14), (36, 40)]);
        assert_eq!(
            subtract(&b, &[(1, 2), (12, 12), (18, 31), (50, 60)]),
            vec![(10, 11), (13, 17), (32, 40)]
        );
        assert!(is_full(&a));
    }
}
