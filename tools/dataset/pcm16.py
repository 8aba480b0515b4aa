"""Reading and writing the 16-bit PCM WAV files the dataset tools copy (standard library only).

`read(path)` returns the file's `wave` parameters and its interleaved samples as an
`array('h')` in native byte order; `write(path, params, samples)` writes them back (the frame
count taken from the samples). Shared by `scale_level.py`, `add_hum.py`, `detune.py` and
`repeat_dips.py`.
"""
import array
import sys
import wave


def read(path):
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        if params.sampwidth != 2:
            raise SystemExit(f"{path}: only 16-bit PCM is supported")
        samples = array.array("h", w.readframes(params.nframes))
    if sys.byteorder == "big":
        samples.byteswap()
    return params, samples


def write(path, params, samples):
    out = array.array("h", samples)
    if sys.byteorder == "big":
        out.byteswap()
    with wave.open(str(path), "wb") as w:
        w.setparams(params._replace(nframes=len(out) // max(1, params.nchannels)))
        w.writeframes(out.tobytes())
