"""Top entries of a py-spy profile (`py-spy record --format raw`: collapsed stacks).

    python -m bench.profile PROFILE.txt [--top 25]

Self time: samples whose innermost frame is the function. Cumulative: samples with the function
anywhere on the stack (counted once per sample, however deep the recursion). Percentages are of
all non-idle samples, i.e. of the CPU the process used (samples of a thread parked in an idle
executor worker, which py-spy cannot tell from work, are left out).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# py-spy frames look like "function (module/path.py:123)"; the line number is per sample.
_LINE = re.compile(r":\d+\)$")
# Leaves py-spy counts as busy though the thread is parked on a lock (an idle executor worker).
IDLE_LEAVES = frozenset({"_worker (concurrent/futures/thread.py)", "Condition.wait (threading.py)"})


def _function(frame: str) -> str:
    name = _LINE.sub(")", frame.strip())
    for marker in ("site-packages/", "/bench/", "/bridge/", "lib/python3"):
        head, sep, tail = name.partition(marker)
        if sep:
            prefix = head.rsplit("(", 1)[0]
            name = f"{prefix}({'' if marker.startswith('site') else marker.strip('/') + '/'}{tail}"
            break
    return name


def summarize(text: str) -> tuple[int, Counter[str], Counter[str]]:
    total = 0
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";") if f]
        if not frames or frames[-1] in IDLE_LEAVES:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            cumulative[name] += count
    return total, own, cumulative


def report(path: Path, top: int = 25) -> str:
    total, own, cumulative = summarize(path.read_text(errors="replace"))
    if not total:
        return f"{path}: no samples"
    lines = [f"{path}: {total} samples", "", f"top {top} by self time:"]
    for name, count in own.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {name}")
    lines += ["", f"top {top} by cumulative time:"]
    for name, count in cumulative.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {name}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(report(args.profile, args.top))


if __name__ == "__main__":
    main()
