//! Short-time Fourier transform of one analysis frame (AUDIO THREAD).
//!
//! A `Stft` owns a preplanned real FFT, its window and every buffer it needs; `process` windows a
//! frame, zero-pads it to the FFT length and transforms it without allocating.
//!
//! The analyser uses two of them:
//! - the *long* transform: the full ≈ 43 ms frame, rectangular window, zero-padded to twice its
//!   length so that `|X|²` gives the linear (not circular) autocorrelation for the pitch detector.
//!   Its even bins, combined three at a time, are exactly the spectrum of the Hann-windowed frame
//!   (see [`Stft::hann_magnitudes_from_padded`]), which feeds the chroma — one FFT serves both.
//! - the *short* transform: the last ≈ 10 ms, Hann window, for spectral flux (fast onsets).

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

use super::real_fft::ForwardReal;

/// The window applied before the transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowShape {
    /// No weighting (all ones): used when the spectrum feeds an autocorrelation.
    Rectangular,
    /// Periodic Hann window.
    Hann,
}

/// Fixed sizes of one transform.
#[derive(Debug, Clone, Copy)]
pub struct StftConfig {
    /// Samples per frame (the window length).
    pub frame_len: usize,
    /// FFT length, ≥ `frame_len`; the frame is zero-padded up to it.
    pub fft_len: usize,
    /// Window shape.
    pub window: WindowShape,
}

/// `|c|`, the same value as `c.norm()` (`hypotf`) for finite `c`, without a libm call, so the
/// magnitude loops vectorise. glibc's `hypotf` is `(float) sqrt((double) re² + (double) im²)`:
/// a float's square is exact in a double, so the sum is rounded once, the root once and the
/// narrowing once, exactly as here (200 M random pairs compared bit for bit on glibc 2.36; the
/// analysis outputs are unchanged, see `docs/transcription-journal.md`, *Analysis cost*). The
/// spectra are finite (the input is clamped), so hypot's infinity-over-NaN rule never applies.
#[inline]
pub fn magnitude(c: Complex<f32>) -> f32 {
    let (re, im) = (f64::from(c.re), f64::from(c.im));
    (re * re + im * im).sqrt() as f32
}

/// The largest of `values` and 0: the same value as `values.iter().fold(0.0, |a, &b| a.max(b))`
/// (a maximum is exact, so the order it is taken in does not matter; NaNs are skipped either
/// way), kept in eight lanes so that the loop vectorises. Magnitudes are never −0.
#[inline]
pub fn peak(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(v);
        }
    }
    lanes.iter().chain(rest).fold(0.0f32, |a, &b| a.max(b))
}

/// The largest magnitude in bins `bin − 1 ..= bin + 1` (and 0), the peak a partial near `bin`
/// leaves in a windowed spectrum; `None` when those bins lie past the end of `mags`.
#[inline]
pub fn peak_near(mags: &[f32], bin: usize) -> Option<f32> {
    mags.get(bin.saturating_sub(1)..=bin.saturating_add(1))
        .map(|s| s.iter().fold(0.0f32, |a, &x| a.max(x)))
}

/// Hann bins computed together by [`Stft::hann_magnitudes_from_padded`]'s inner loop.
const HANN_BLOCK: usize = 8;

/// One preplanned transform with all its buffers.
pub struct Stft {
    /// Frame length; `process` reads at most this many samples. Fixed at construction.
    frame_len: usize,
    /// The forward real FFT, planned once in `new`.
    fft: ForwardReal,
    /// Window coefficients (`frame_len` values), allocated in `new`.
    window: Vec<f32>,
    /// FFT input (`fft_len` samples as `fft_len / 2` pairs): the windowed frame followed by
    /// zeros. The FFT uses it as scratch, so it is rewritten on every call.
    input: Vec<Complex<f32>>,
    /// Complex spectrum (`fft_len / 2 + 1` bins) of the last processed frame.
    spectrum: Vec<Complex<f32>>,
    /// Magnitudes of `spectrum`, filled on demand by [`Stft::magnitudes`] (same length).
    magnitudes: Vec<f32>,
    /// FFT scratch space, so that the transform never allocates.
    scratch: Vec<Complex<f32>>,
    /// 1 / (sum of the window): scales magnitudes so that a full-scale sine reads ≈ 0.5.
    norm: f32,
}

impl Stft {
    /// Plans the FFT and allocates every buffer.
    pub fn new(config: StftConfig) -> Self {
        let frame_len = config.frame_len.max(2);
        let fft_len = config.fft_len.max(frame_len);
        let fft = ForwardReal::new(fft_len, &mut FftPlanner::new());
        let window: Vec<f32> = (0..frame_len)
            .map(|n| match config.window {
                WindowShape::Rectangular => 1.0,
                WindowShape::Hann => {
                    let phase = std::f32::consts::TAU * n as f32 / frame_len as f32;
                    0.5 - 0.5 * phase.cos()
                }
            })
            .collect();
        let sum: f32 = window.iter().sum();
        let input = fft.make_pairs();
        let spectrum = fft.make_bins();
        let scratch = fft.make_scratch();
        let magnitudes = vec![0.0; spectrum.len()];
        Self {
            frame_len,
            fft,
            window,
            input,
            spectrum,
            magnitudes,
            scratch,
            norm: if sum > 0.0 { 1.0 / sum } else { 1.0 },
        }
    }

    /// Frame length in samples.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Number of spectrum bins (`fft_len / 2 + 1`).
    pub fn bins(&self) -> usize {
        self.spectrum.len()
    }

    /// Windows `frame` (its last `frame_len` samples are used; shorter frames are zero-filled at
    /// the front), zero-pads and transforms it. Returns the complex spectrum.
    pub fn process(&mut self, frame: &[f32]) -> &[Complex<f32>] {
        let n = self.frame_len.min(frame.len());
        let start_in_frame = frame.len() - n;
        let start_in_window = self.frame_len - n;
        // Only what the frame does not overwrite is zeroed: the front of a short frame and the
        // padding (the FFT used the whole buffer as scratch last time).
        let written = start_in_window..self.frame_len;
        let input: &mut [f32] = bytemuck::cast_slice_mut(&mut self.input);
        if let (Some(dst), Some(src), Some(win)) = (
            input.get_mut(written.clone()),
            frame.get(start_in_frame..),
            self.window.get(start_in_window..),
        ) {
            for ((d, &s), &w) in dst.iter_mut().zip(src).zip(win) {
                *d = s * w;
            }
            if let Some(front) = input.get_mut(..written.start) {
                front.fill(0.0);
            }
            if let Some(padding) = input.get_mut(written.end..) {
                padding.fill(0.0);
            }
        } else {
            input.fill(0.0);
        }
        // Lengths come from the plan itself, so this cannot fail; if it did, the old spectrum
        // would stay.
        self.fft
            .process(&mut self.input, &mut self.spectrum, &mut self.scratch);
        &self.spectrum
    }

    /// The spectrum of the last processed frame.
    pub fn spectrum(&self) -> &[Complex<f32>] {
        &self.spectrum
    }

    /// Normalised magnitudes of the first `bins` bins of the last spectrum.
    pub fn magnitudes(&mut self, bins: usize) -> &[f32] {
        let bins = bins.min(self.spectrum.len());
        for (m, c) in self.magnitudes.iter_mut().zip(&self.spectrum).take(bins) {
            *m = magnitude(*c) * self.norm;
        }
        &self.magnitudes[..bins]
    }

    /// Hann-windowed magnitude spectrum of an `N`-sample frame, computed from the spectrum `x` of
    /// the same frame, unwindowed and zero-padded to `2N`: Hann bin `j` is
    /// `0.5·X[2j] − 0.25·X[2j−2] − 0.25·X[2j+2]` (the window's three-term cosine form). Fills
    /// `out` (one value per Hann bin, `out.len()` ≤ N/2+1) scaled so a full-scale sine reads ≈ 0.5.
    pub fn hann_magnitudes_from_padded(x: &[Complex<f32>], frame_len: usize, out: &mut [f32]) {
        let norm = if frame_len > 0 {
            2.0 / frame_len as f32
        } else {
            0.0
        };
        let last = x.len().saturating_sub(1);
        let at = |i: isize| -> Complex<f32> {
            if i < 0 {
                x.get((-i) as usize).map(|c| c.conj()).unwrap_or_default()
            } else if (i as usize) > last {
                x.get(2 * last - i as usize)
                    .map(|c| c.conj())
                    .unwrap_or_default()
            } else {
                x.get(i as usize).copied().unwrap_or_default()
            }
        };
        let edge = |j: usize| -> f32 {
            let k = (2 * j) as isize;
            let h = at(k) * 0.5 - (at(k - 2) + at(k + 2)) * 0.25;
            magnitude(h) * norm
        };
        // Bins whose three terms lie inside `x` (1 ≤ j, 2j + 2 ≤ last) read them straight from
        // `x`, [`HANN_BLOCK`] bins at a time from one fixed-size window so that the loop
        // vectorises; the first bin and the last ones (up to a block's worth of inner ones
        // too) mirror through `at`. Same arithmetic: [`magnitude`] written out.
        let mut done = 0;
        if let Some(o) = out.first_mut() {
            *o = edge(0);
            done = 1;
        }
        let inner = out.len().min(last / 2).saturating_sub(1);
        if let Some(body) = out.get_mut(1..1 + inner) {
            for (b, block) in body.chunks_exact_mut(HANN_BLOCK).enumerate() {
                // Bins 1 + 8b … 8 + 8b read x[16b … 16b + 18].
                let from = 2 * HANN_BLOCK * b;
                let Some(w) = x
                    .get(from..from + 2 * HANN_BLOCK + 3)
                    .and_then(|w| <&[Complex<f32>; 2 * HANN_BLOCK + 3]>::try_from(w).ok())
                else {
                    break;
                };
                let mut re = [0.0f64; HANN_BLOCK];
                let mut im = [0.0f64; HANN_BLOCK];
                for i in 0..HANN_BLOCK {
                    let h = w[2 * i + 2] * 0.5 - (w[2 * i] + w[2 * i + 4]) * 0.25;
                    re[i] = f64::from(h.re);
                    im[i] = f64::from(h.im);
                }
                for ((o, r), i) in block.iter_mut().zip(re).zip(im) {
                    *o = (r * r + i * i).sqrt() as f32 * norm;
                }
                done += HANN_BLOCK;
            }
        }
        for (j, o) in out.iter_mut().enumerate().skip(done) {
            *o = edge(j);
        }
    }

    /// Forgets the last spectrum.
    pub fn reset(&mut self) {
        self.spectrum
            .iter_mut()
            .for_each(|c| *c = Complex::default());
        self.magnitudes.iter_mut().for_each(|m| *m = 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hann_from_padded_matches_direct_hann() {
        let n = 256;
        let frame: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 0.37).sin() + 0.3 * (i as f32 * 1.91).cos())
            .collect();
        let mut padded = Stft::new(StftConfig {
            frame_len: n,
            fft_len: 2 * n,
            window: WindowShape::Rectangular,
        });
        let mut hann = Stft::new(StftConfig {
            frame_len: n,
            fft_len: n,
            window: WindowShape::Hann,
        });
        let x = padded.process(&frame).to_vec();
        hann.process(&frame);
        let direct = hann.magnitudes(n / 2 + 1).to_vec();
        let mut derived = vec![0.0; n / 2 + 1];
        Stft::hann_magnitudes_from_padded(&x, n, &mut derived);
        for (a, b) in direct.iter().zip(&derived) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }

    /// The blocked inner loop gives the bits of the three-term formula written out per bin
    /// (mirroring at both ends), for every output length up to the whole spectrum.
    #[test]
    fn hann_from_padded_blocks_match_the_formula_bit_for_bit() {
        let n = 256;
        let x: Vec<Complex<f32>> = (0..=n)
            .map(|k| Complex::new((k as f32 * 0.731).sin() * 3.0, (k as f32 * 1.37).cos()))
            .collect();
        let at = |i: isize| -> Complex<f32> {
            let last = n as isize;
            match i {
                i if i < 0 => x[(-i) as usize].conj(),
                i if i > last => x[(2 * last - i) as usize].conj(),
                i => x[i as usize],
            }
        };
        let norm = 2.0 / 128.0;
        for len in [0usize, 1, 2, 9, 17, 64, 65, 100, 127, 128, 129] {
            let mut out = vec![f32::NAN; len];
            Stft::hann_magnitudes_from_padded(&x, 128, &mut out);
            for (j, o) in out.iter().enumerate() {
                let k = 2 * j as isize;
                let h = at(k) * 0.5 - (at(k - 2) + at(k + 2)) * 0.25;
                assert_eq!(
                    o.to_bits(),
                    (magnitude(h) * norm).to_bits(),
                    "{len}: bin {j}"
                );
            }
        }
    }

    #[test]
    fn magnitude_is_hypot_bit_for_bit() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for i in 0..200_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Exponents 2^-40 … 2^40, both signs, partners within a few octaves of each other
            // (the FFT's bins) and now and then a zero.
            let part = |bits: u64, e: u32| {
                let f = f32::from_bits((e << 23) | (bits as u32 & 0x7f_ffff));
                if bits & (1 << 31) != 0 {
                    -f
                } else {
                    f
                }
            };
            let e = 87 + (seed >> 40) as u32 % 80;
            let re = part(seed, e);
            let im = if i % 97 == 0 {
                0.0
            } else {
                part(seed >> 23, e + (seed >> 56) as u32 % 9 - 4)
            };
            let c = Complex::new(re, im);
            assert_eq!(magnitude(c).to_bits(), c.norm().to_bits(), "{c:?}");
        }
    }

    #[test]
    fn peak_is_the_sequential_maximum() {
        for len in [0usize, 1, 7, 8, 9, 63, 257] {
            let values: Vec<f32> = (0..len)
                .map(|i| ((i * 7919) % 1000) as f32 * 0.001 * ((i % 5) as f32 - 1.5))
                .collect();
            let sequential = values.iter().fold(0.0f32, |a, &b| a.max(b));
            assert_eq!(peak(&values).to_bits(), sequential.to_bits(), "{len}");
        }
        assert_eq!(peak(&[f32::NAN, 0.5, f32::NAN]), 0.5);
    }

    #[test]
    fn full_scale_sine_reads_half() {
        let n = 512;
        let mut stft = Stft::new(StftConfig {
            frame_len: n,
            fft_len: n,
            window: WindowShape::Hann,
        });
        let frame: Vec<f32> = (0..n)
            .map(|i| (std::f32::consts::TAU * 32.0 * i as f32 / n as f32).sin())
            .collect();
        stft.process(&frame);
        let m = stft.magnitudes(n / 2 + 1);
        assert!((m[32] - 0.5).abs() < 0.01, "{}", m[32]);
    }
}
