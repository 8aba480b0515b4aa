//! FFTs of real signals of even length (AUDIO THREAD), on rustfft's complex FFT of half the
//! length.
//!
//! The algorithm and every rounding are those of realfft's `RealToComplexEven` and
//! `ComplexToRealEven` (the outputs are the same bits, see the tests): the signal's sample pairs
//! are read as complex numbers, transformed at half length, and one pass over the spectrum pairs
//! bin `k` with bin `N/2 − k` to separate the even and odd samples' spectra. realfft walks that
//! pass one pair at a time, the second index running backwards, and it compiles to scalar code
//! that took as long as the complex FFT itself (perf on `continuo render`: 14 % of the
//! analysis). Here the pass works on blocks of [`BLOCK`] pairs, the backward block reversed in
//! registers, so that it vectorises (`docs/transcription-journal.md`, *Analysis cost*).
//!
//! Buffers are `Complex<f32>`; callers that think in real samples view them through
//! `bytemuck::cast_slice` (a complex is two `f32`s, real part first).

use std::marker::PhantomData;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// Pairs handled together by the separating pass (8 fill two AVX or four SSE registers).
const BLOCK: usize = 8;

/// Twiddles `e^{−2πik/N}` (`k = 1 .. N/4`), real and imaginary parts in separate arrays so that
/// the separating pass reads them as vectors; each part scaled by `scale` after the cast to
/// `f32`, as realfft does.
fn twiddles(len: usize, scale: f32, conjugate: bool) -> (Vec<f32>, Vec<f32>) {
    (1..len / 4)
        .map(|k| {
            let angle = -2.0 * std::f64::consts::PI / len as f64 * k as f64;
            let im = if conjugate { -angle.sin() } else { angle.sin() } as f32;
            (angle.cos() as f32 * scale, im * scale)
        })
        .unzip()
}

/// The separating pass: `f(bin k, bin N/2 − k, twiddle re, twiddle im)` gives both bins' new
/// values, for `k = 1 .. N/4` (`low` holds bins `1 .. N/4`, `high` bins `N/4 + 1 .. N/2`, in
/// index order). Blocks of [`BLOCK`], then the rest one at a time.
#[inline(always)]
fn pairs(
    low: &mut [Complex<f32>],
    high: &mut [Complex<f32>],
    twiddle_re: &[f32],
    twiddle_im: &[f32],
    f: impl Fn(Complex<f32>, Complex<f32>, f32, f32) -> (Complex<f32>, Complex<f32>),
) {
    let count = low
        .len()
        .min(high.len())
        .min(twiddle_re.len())
        .min(twiddle_im.len());
    let skip = high.len() - count;
    let (low, high) = (&mut low[..count], &mut high[skip..]);
    let blocks = count / BLOCK;
    let (low_blocks, low_rest) = low.split_at_mut(blocks * BLOCK);
    let (high_rest, high_blocks) = high.split_at_mut(count - blocks * BLOCK);
    for (((lo, hi), re), im) in low_blocks
        .chunks_exact_mut(BLOCK)
        .zip(high_blocks.rchunks_exact_mut(BLOCK))
        .zip(twiddle_re.chunks_exact(BLOCK))
        .zip(twiddle_im.chunks_exact(BLOCK))
    {
        let mut new_lo = [Complex::default(); BLOCK];
        let mut new_hi = [Complex::default(); BLOCK];
        for j in 0..BLOCK {
            let (a, b) = f(lo[j], hi[BLOCK - 1 - j], re[j], im[j]);
            new_lo[j] = a;
            new_hi[BLOCK - 1 - j] = b;
        }
        lo.copy_from_slice(&new_lo);
        hi.copy_from_slice(&new_hi);
    }
    let done = blocks * BLOCK;
    for (((lo, hi), &re), &im) in low_rest
        .iter_mut()
        .zip(high_rest.iter_mut().rev())
        .zip(&twiddle_re[done..])
        .zip(&twiddle_im[done..])
    {
        (*lo, *hi) = f(*lo, *hi, re, im);
    }
}

/// The forward direction: `N` real samples to `N/2 + 1` bins.
pub enum Forward {}

/// The inverse direction: `N/2 + 1` bins to `N` real samples, unnormalised (as realfft: a
/// forward then inverse transform multiplies by `N`).
pub enum Inverse {}

/// A planned real transform in direction `D`: the complex FFT of half the length and the
/// twiddles of the separating pass.
pub struct RealFft<D> {
    /// Real length `N`: a multiple of 4, at least 4.
    len: usize,
    /// Complex FFT (forward or inverse) of length `N/2`, planned in `new`.
    fft: Arc<dyn Fft<f32>>,
    /// Real parts of the twiddles: halved for the forward transform (realfft folds the pass's
    /// ½ into them), conjugated for the inverse; `N/4 − 1` values, allocated in `new`.
    twiddle_re: Vec<f32>,
    /// Imaginary parts of the same twiddles.
    twiddle_im: Vec<f32>,
    /// The direction (no data).
    direction: PhantomData<D>,
}

/// `N` real samples to `N/2 + 1` bins.
pub type ForwardReal = RealFft<Forward>;

/// `N/2 + 1` bins to `N` real samples.
pub type InverseReal = RealFft<Inverse>;

impl<D> RealFft<D> {
    /// Plans the transform for `len` real samples, rounded up to a multiple of 4 (≥ 4).
    fn plan(len: usize, planner: &mut FftPlanner<f32>, inverse: bool) -> Self {
        let len = len.max(4).next_multiple_of(4);
        let (twiddle_re, twiddle_im) = if inverse {
            twiddles(len, 1.0, true)
        } else {
            twiddles(len, 0.5, false)
        };
        let fft = if inverse {
            planner.plan_fft_inverse(len / 2)
        } else {
            planner.plan_fft_forward(len / 2)
        };
        Self {
            len,
            fft,
            twiddle_re,
            twiddle_im,
            direction: PhantomData,
        }
    }

    /// Real samples in or out.
    pub fn samples(&self) -> usize {
        self.len
    }

    /// The buffer of samples as pairs: `N/2` complex values.
    pub fn make_pairs(&self) -> Vec<Complex<f32>> {
        vec![Complex::default(); self.len / 2]
    }

    /// The buffer of bins: `N/2 + 1` complex values.
    pub fn make_bins(&self) -> Vec<Complex<f32>> {
        vec![Complex::default(); self.len / 2 + 1]
    }

    /// The scratch buffer `process` needs.
    pub fn make_scratch(&self) -> Vec<Complex<f32>> {
        vec![Complex::default(); self.fft.get_outofplace_scratch_len()]
    }

    /// `N/2` when the buffers fit (`pairs` holds `N/2` values, `bins` `N/2 + 1`, `scratch`
    /// enough for the FFT), else `None`.
    fn half_if_fits(
        &self,
        pairs: &[Complex<f32>],
        bins: &[Complex<f32>],
        scratch: &[Complex<f32>],
    ) -> Option<usize> {
        let half = self.len / 2;
        (pairs.len() == half
            && bins.len() == half + 1
            && scratch.len() >= self.fft.get_outofplace_scratch_len())
        .then_some(half)
    }
}

impl RealFft<Forward> {
    /// Plans the forward transform for `len` real samples (see [`RealFft::plan`]).
    pub fn new(len: usize, planner: &mut FftPlanner<f32>) -> Self {
        Self::plan(len, planner, false)
    }

    /// Transforms `input` (the samples as pairs, [`RealFft::make_pairs`]; left as garbage)
    /// into `output` ([`RealFft::make_bins`]). False (and nothing done) when a buffer has the
    /// wrong length.
    pub fn process(
        &self,
        input: &mut [Complex<f32>],
        output: &mut [Complex<f32>],
        scratch: &mut [Complex<f32>],
    ) -> bool {
        let Some(half) = self.half_if_fits(input, output, scratch) else {
            return false;
        };
        self.fft
            .process_outofplace_with_scratch(input, &mut output[..half], scratch);
        let first = output[0];
        output[0] = Complex::new(first.re + first.im, 0.0);
        output[half] = Complex::new(first.re - first.im, 0.0);
        let (low, high) = output[1..half].split_at_mut(half / 2 - 1);
        // `high` starts at the centre bin N/4, which pairs with itself (below).
        pairs(
            low,
            &mut high[1..],
            &self.twiddle_re,
            &self.twiddle_im,
            |out, out_rev, re, im| {
                let sum = out + out_rev;
                let diff = out - out_rev;
                let half_sum_re = 0.5 * sum.re;
                let half_diff_im = 0.5 * diff.im;
                let twiddled_re = sum.im * re + diff.re * im;
                let twiddled_im = sum.im * im - diff.re * re;
                (
                    Complex::new(half_sum_re + twiddled_re, half_diff_im + twiddled_im),
                    Complex::new(half_sum_re - twiddled_re, twiddled_im - half_diff_im),
                )
            },
        );
        output[half / 2].im = -output[half / 2].im;
        true
    }
}

impl RealFft<Inverse> {
    /// Plans the inverse transform for `len` real samples (see [`RealFft::plan`]).
    pub fn new(len: usize, planner: &mut FftPlanner<f32>) -> Self {
        Self::plan(len, planner, true)
    }

    /// Transforms the spectrum `input` ([`RealFft::make_bins`]; left as garbage; the
    /// imaginary parts of its first and last bins are taken as 0) into the samples `output`
    /// (as pairs, [`RealFft::make_pairs`]). False (and nothing done) when a buffer has the
    /// wrong length.
    pub fn process(
        &self,
        input: &mut [Complex<f32>],
        output: &mut [Complex<f32>],
        scratch: &mut [Complex<f32>],
    ) -> bool {
        let Some(half) = self.half_if_fits(output, input, scratch) else {
            return false;
        };
        input[0].im = 0.0;
        input[half].im = 0.0;
        let (first_sum, first_diff) = (input[0] + input[half], input[0] - input[half]);
        input[0] = Complex::new(first_sum.re - first_sum.im, first_diff.re - first_diff.im);
        let (low, high) = input[1..half].split_at_mut(half / 2 - 1);
        pairs(
            low,
            &mut high[1..],
            &self.twiddle_re,
            &self.twiddle_im,
            |bin, bin_rev, re, im| {
                let sum = bin + bin_rev;
                let diff = bin - bin_rev;
                let twiddled_re = sum.im * re + diff.re * im;
                let twiddled_im = sum.im * im - diff.re * re;
                (
                    Complex::new(sum.re - twiddled_re, diff.im - twiddled_im),
                    Complex::new(sum.re + twiddled_re, -twiddled_im - diff.im),
                )
            },
        );
        let centre = input[half / 2];
        input[half / 2] = (centre + centre).conj();
        self.fft
            .process_outofplace_with_scratch(&mut input[..half], output, scratch);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;

    fn signal(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let x = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8;
                x as f32 / (1 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// Every length the analyser plans (and odd block remainders) gives realfft's bits, both
    /// ways.
    #[test]
    fn same_bits_as_realfft() {
        let mut ours = FftPlanner::new();
        let mut theirs = RealFftPlanner::<f32>::new();
        for len in [4usize, 8, 12, 20, 64, 100, 128, 512, 1024, 2048, 4096, 8192] {
            let samples = signal(len, len as u32);
            let forward = ForwardReal::new(len, &mut ours);
            let mut input = forward.make_pairs();
            bytemuck::cast_slice_mut::<_, f32>(&mut input).copy_from_slice(&samples);
            let mut spectrum = forward.make_bins();
            assert!(forward.process(&mut input, &mut spectrum, &mut forward.make_scratch()));
            let reference = theirs.plan_fft_forward(len);
            let mut their_input = samples.clone();
            let mut their_spectrum = reference.make_output_vec();
            reference
                .process(&mut their_input, &mut their_spectrum)
                .unwrap();
            for (k, (a, b)) in spectrum.iter().zip(&their_spectrum).enumerate() {
                assert_eq!(
                    (a.re.to_bits(), a.im.to_bits()),
                    (b.re.to_bits(), b.im.to_bits()),
                    "forward {len}, bin {k}: {a} vs {b}"
                );
            }

            let inverse = InverseReal::new(len, &mut ours);
            let mut bins = spectrum.clone();
            let mut back = inverse.make_pairs();
            assert!(inverse.process(&mut bins, &mut back, &mut inverse.make_scratch()));
            let reference = theirs.plan_fft_inverse(len);
            let mut their_bins = their_spectrum.clone();
            let mut their_back = reference.make_output_vec();
            reference.process(&mut their_bins, &mut their_back).unwrap();
            let back: &[f32] = bytemuck::cast_slice(&back);
            for (i, (a, b)) in back.iter().zip(&their_back).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "inverse {len}, sample {i}");
            }
            // And the round trip is the signal times N.
            for (a, s) in back.iter().zip(&samples) {
                assert!((a / len as f32 - s).abs() < 1e-5, "{len}");
            }
        }
    }

    #[test]
    fn wrong_lengths_are_refused() {
        let mut planner = FftPlanner::new();
        let forward = ForwardReal::new(64, &mut planner);
        let mut scratch = forward.make_scratch();
        let mut short = vec![Complex::default(); 31];
        assert!(!forward.process(&mut short, &mut forward.make_bins(), &mut scratch));
        let inverse = InverseReal::new(64, &mut planner);
        let mut bins = inverse.make_bins();
        assert!(!inverse.process(&mut bins, &mut short, &mut inverse.make_scratch()));
        assert_eq!(ForwardReal::new(6, &mut planner).samples(), 8);
    }
}
