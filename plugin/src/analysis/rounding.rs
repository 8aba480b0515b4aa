//! Rounding to the nearest integer without a library call: the build targets baseline x86-64,
//! which has no rounding instruction, so `f32::round` is a call into a software routine (and
//! stops the loop around it from vectorising). The stages that round in their per-bin or
//! per-unit loops (the polyphony mask, chroma, the attack reader's exponential) use this.

/// `x.round()`, the same value bit for bit up to the sign of a zero: halves away from zero,
/// integers, infinities and NaN returned as they are.
#[inline]
pub fn round(x: f32) -> f32 {
    // 2^23 and above every f32 is an integer; NaN goes back as it came.
    if x.is_nan() || x.abs() >= 8_388_608.0 {
        return x;
    }
    // Truncation and the fraction it leaves are exact below 2^23.
    let t = x as i32 as f32;
    let fraction = x - t;
    if fraction >= 0.5 {
        t + 1.0
    } else if fraction <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_as_the_library_does() {
        let mut cases = vec![
            0.0f32,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.499_999_97,
            -0.499_999_97,
            8_388_607.5,
            -8_388_607.5,
            8_388_608.0,
            1e10,
            -1e10,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
        ];
        let mut seed = 0x2545_f491u32;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            // Spread over the exponents that matter (2^-10 … 2^25), both signs.
            let mantissa = (seed & 0x007f_ffff) | 0x3f80_0000;
            let scale = 2f32.powi((seed >> 24) as i32 % 36 - 10);
            let sign = if seed & 0x0080_0000 != 0 { -1.0 } else { 1.0 };
            cases.push(sign * f32::from_bits(mantissa) * scale);
        }
        for x in cases {
            let (ours, library) = (round(x), x.round());
            // `==` takes −0 and +0 as equal: the sign of a zero is the one difference.
            assert!(ours == library, "{x}: {ours} against {library}");
            assert_eq!(ours as i64, library as i64, "{x}");
        }
        assert!(round(f32::NAN).is_nan());
    }
}
