//! `10^x` and `e^x` that give the same bits on every platform.
//!
//! `f64::powf` and `f64::exp` call the platform's libm, and glibc, musl,
//! macOS and Windows round the last bit differently. A fit score that
//! differs in its last bit can flip a tie between two nodes, and a plan
//! replayed on another machine would then differ, breaking the core's
//! "same inputs, same bytes" invariant. These functions use only IEEE-754
//! basic operations (`+ − × ÷` are exactly rounded everywhere, and Rust never
//! fuses them into multiply-adds) and exact ones (`round`, bit assembly), so
//! they are portable. They are accurate to a few units in the last place,
//! which is plenty for a score.

/// High and low parts of ln 2 (fdlibm's split): the high part has enough
/// trailing zero bits that `k × LN2_HI` is exact for any exponent `k` we use,
/// so the range reduction loses nothing. Given as bits so they are exactly
/// fdlibm's values.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `1 / n!` for `n` in `0..=14`, each the nearest `f64` (written as the
/// shortest decimal that reads back to it).
const INVERSE_FACTORIALS: [f64; 15] = [
    1.0,
    1.0,
    0.5,
    0.16666666666666666,
    0.041666666666666664,
    0.008333333333333333,
    0.001388888888888889,
    0.0001984126984126984,
    2.48015873015873e-05,
    2.7557319223985893e-06,
    2.755731922398589e-07,
    2.505210838544172e-08,
    2.08767569878681e-09,
    1.6059043836821613e-10,
    1.1470745597729725e-11,
];

/// Above this `e^y` overflows to infinity; below the lower bound it
/// underflows to zero.
const EXP_OVERFLOW: f64 = 709.782_712_893_384;
const EXP_UNDERFLOW: f64 = -745.133_219_101_941_1;

/// The largest power of ten that is exactly representable.
const MAX_EXACT_POWER_OF_TEN: i32 = 22;

/// `10^x`, portable to the last bit.
///
/// For `|x| ≤ 22` (every fit score: `free` is at most 1 and rarely much below
/// 0) it is `10^n × 10^f` with `n = round(x)` and `|f| ≤ 0.5`: `10^n` is
/// exact, `x − n` is exact, and the exponential of a small argument is
/// accurate, so integral exponents (an empty node's `10^1`, a full node's
/// `10^0`) come out exact.
pub fn pow10(x: f64) -> f64 {
    if x.abs() <= f64::from(MAX_EXACT_POWER_OF_TEN) {
        let n = x.round();
        let fraction = exp((x - n) * std::f64::consts::LN_10);
        // Repeated multiplication by 10 stays exact up to 10^22.
        let mut power = 1.0;
        for _ in 0..(n.abs() as i32) {
            power *= 10.0;
        }
        return if n < 0.0 {
            fraction / power
        } else {
            fraction * power
        };
    }
    exp(x * std::f64::consts::LN_10)
}

/// `e^y`, portable to the last bit.
///
/// Range reduction `y = k·ln2 + r` with `|r| ≤ ln2/2`, a degree-14 Taylor
/// polynomial for `e^r` (the truncation error is below 1e-17 there, the
/// rounding of its 1/n! coefficients below an ulp), then
/// an exact scaling by `2^k`.
pub fn exp(y: f64) -> f64 {
    if y.is_nan() {
        return y;
    }
    if y > EXP_OVERFLOW {
        return f64::INFINITY;
    }
    if y < EXP_UNDERFLOW {
        return 0.0;
    }
    let k = (y * std::f64::consts::LOG2_E).round();
    let r = (y - k * LN2_HI) - k * LN2_LO;
    // Horner form of the sum of r^n / n!, from the highest term down. The
    // coefficients are constants, so no division is left: with a division
    // per term, pow10 took 6 % of the placement walk (two calls per node
    // scored), 2.5 % without.
    let mut p = INVERSE_FACTORIALS[INVERSE_FACTORIALS.len() - 1];
    for coefficient in INVERSE_FACTORIALS.iter().rev().skip(1) {
        p = p * r + coefficient;
    }
    scale_by_power_of_two(p, k as i32)
}

/// `p × 2^k` for `k` in roughly [-1080, 1030]. The power is applied in two
/// halves so each factor is a normal number; only the final product can
/// round (into the subnormals), and that rounding is IEEE's.
fn scale_by_power_of_two(p: f64, k: i32) -> f64 {
    let half = k / 2;
    p * power_of_two(half) * power_of_two(k - half)
}

/// `2^e` for `e` in the normal exponent range, assembled from its bits.
fn power_of_two(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_powers_of_ten_are_exact() {
        assert_eq!(pow10(0.0), 1.0);
        assert_eq!(pow10(1.0), 10.0);
        assert_eq!(pow10(2.0), 100.0);
        assert_eq!(pow10(22.0), 1e22);
        assert_eq!(pow10(-1.0), 0.1);
        assert_eq!(pow10(-2.0), 0.01);
    }

    #[test]
    fn agrees_with_the_platform_libm_to_a_few_ulp() {
        // Not a determinism test (libm is what we avoid) but an accuracy one.
        let mut x = -40.0;
        while x <= 40.0 {
            let ours = pow10(x);
            let libm = 10f64.powf(x);
            // Tight where fit scores live; beyond ±22, `x × ln 10` itself
            // carries a relative error of |x| ulp.
            let tolerance = if x.abs() <= 22.0 { 1e-15 } else { 1e-13 };
            assert!(
                ((ours - libm) / libm).abs() < tolerance,
                "pow10({x}) = {ours}, libm says {libm}"
            );
            x += 0.013;
        }
        for y in [-700.0, -20.5, -1.0, -1e-9, 0.0, 1e-9, 0.5, 1.0, 3.3, 700.0] {
            let ours = exp(y);
            let libm = f64::exp(y);
            assert!(((ours - libm) / libm).abs() < 1e-14, "exp({y})");
        }
    }

    #[test]
    fn inverse_factorials_are_the_nearest_doubles() {
        let mut factorial = 1u128;
        for (n, &coefficient) in INVERSE_FACTORIALS.iter().enumerate() {
            if n > 0 {
                factorial *= n as u128;
            }
            // n! is exact as an f64 up to 14! (below 2^53 after its
            // trailing zero bits), so one exactly rounded division gives
            // the nearest double.
            assert_eq!(coefficient, 1.0 / factorial as f64, "1/{n}!");
        }
    }

    #[test]
    fn extremes_saturate_instead_of_producing_nan() {
        assert_eq!(pow10(1e9), f64::INFINITY);
        assert_eq!(pow10(-1e9), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
        // Subnormal results still come out, not zero.
        let tiny = exp(-740.0);
        assert!(tiny > 0.0 && tiny < f64::MIN_POSITIVE);
    }
}
