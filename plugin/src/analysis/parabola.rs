//! Where a peak found on a grid (FFT bins, NSDF lags) really lies: the vertex of the parabola
//! through the peak's sample and its two neighbours. Used by the pitch estimate (NSDF lags), the
//! chroma, the struck-bar fundamental check and the mixture pull (log spectra, where a Hann
//! window's lobe is close to a parabola).

/// The vertex of the parabola through `(-1, a)`, `(0, b)`, `(1, c)`: its offset from the middle
/// sample, within ±0.5, and its height. When the middle sample is no maximum of that parabola
/// (flat, curving up, or not finite) the peak stays on the grid: `(0, b)`.
pub fn vertex(a: f32, b: f32, c: f32) -> (f32, f32) {
    let curve = a - 2.0 * b + c;
    if curve.is_nan() || curve >= 0.0 {
        return (0.0, b);
    }
    let delta = (0.5 * (a - c) / curve).clamp(-0.5, 0.5);
    (delta, b - 0.25 * (a - c) * delta)
}

#[cfg(test)]
mod tests {
    use super::vertex;

    #[test]
    fn the_vertex_of_a_sampled_parabola_is_found() {
        // y = 3 - 2 (x - 0.3)^2 sampled at -1, 0, 1.
        let y = |x: f32| 3.0 - 2.0 * (x - 0.3) * (x - 0.3);
        let (delta, height) = vertex(y(-1.0), y(0.0), y(1.0));
        assert!((delta - 0.3).abs() < 1e-5, "{delta}");
        assert!((height - 3.0).abs() < 1e-5, "{height}");
    }

    #[test]
    fn no_maximum_stays_on_the_grid() {
        assert_eq!(vertex(1.0, 1.0, 1.0), (0.0, 1.0));
        assert_eq!(vertex(2.0, 1.0, 2.0), (0.0, 1.0));
        assert_eq!(vertex(f32::NAN, 1.0, 0.5), (0.0, 1.0));
        // A neighbour higher than the middle: the offset is held to half a sample.
        assert_eq!(vertex(-10.0, 1.0, 2.0).0, 0.5);
    }
}
