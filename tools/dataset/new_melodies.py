#!/usr/bin/env python3
"""Link the renders of melodies that other sets do not hold into one folder.

    python3 tools/dataset/new_melodies.py OUT FROM [--exclude DIR]...

Every render in FROM (a `render-dataset` split folder: NAME.wav, NAME.notes.tsv, NAME.json)
whose melody (the `source` field of NAME.json) appears in no NAME.json under any --exclude
folder (searched recursively) gets NAME.wav and NAME.notes.tsv symlinked into OUT, which
`continuo eval-transcription OUT` then scores. `docs/transcription-journal.md`'s `/tmp/jtt`
(test-split melodies no set had held) and the attack reader's `/tmp/jtd` (dev-split melodies
dev does not hold) are made this way. Standard library only; prints how many renders it linked.
"""
import argparse
import json
import pathlib
import sys


def source_of(meta):
    """The melody of a render's NAME.json, or None when it is not a render's JSON."""
    try:
        source = json.loads(meta.read_text()).get("source")
    except (OSError, ValueError, AttributeError):
        return None
    return source if isinstance(source, str) else None


def sources(folder):
    return {s for meta in pathlib.Path(folder).rglob("*.json") if (s := source_of(meta))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("source_dir")
    ap.add_argument("--exclude", action="append", default=[])
    a = ap.parse_args()
    seen = set()
    for folder in a.exclude:
        seen |= sources(folder)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    linked = 0
    for meta in sorted(pathlib.Path(a.source_dir).glob("*.json")):
        source = source_of(meta)
        if source is None:
            print(f"skipped {meta}: not a render's JSON", file=sys.stderr)
            continue
        # Names hold dots (`bach-bwv10.7-000-0-p4`): no `with_suffix`.
        stem = str(meta)[: -len(".json")]
        wav, notes = pathlib.Path(stem + ".wav"), pathlib.Path(stem + ".notes.tsv")
        if source in seen or not (wav.exists() and notes.exists()):
            continue
        for f in (wav, notes):
            link = out / f.name
            if not link.exists():
                link.symlink_to(f.resolve())
        linked += 1
    print(f"{linked} renders linked into {out}")


if __name__ == "__main__":
    main()
