"""A child that writes points as fast as it can and acknowledges each commit on stdout.

    python -m tests.reliability.store_writer DB RUN_TAG [checkpoint_pages]

Every point carries samples derived from its sequence number, so the checker can tell a
whole row from a torn one. A line `N` on stdout means point N was committed (the store
returned from add_point). Also used by `make soak`.
"""

from __future__ import annotations

import os
import sys


def samples(i: int) -> list[float]:
    return [i + k / 1000 for k in range(64)]


def main() -> None:
    from raxlab.store import Store

    db, tag = sys.argv[1], sys.argv[2]
    st = Store(db)
    if len(sys.argv) > 3:  # frequent checkpoints: kills land inside them too
        st.db.execute(f"PRAGMA wal_autocheckpoint={int(sys.argv[3])}")
    run = st.new_run("soak.store", workload=tag, params={"tag": tag})
    os.write(1, f"run {run}\n".encode())
    i = 0
    while True:
        st.add_point(run, "w", f"p{i}", "ok", params={"i": i}, result={"i": i, "pad": "x" * (i % 700)},
                     samples=samples(i))
        os.write(1, f"{i}\n".encode())  # one write per line: never half a number
        i += 1
        if i % 50 == 0:
            st.put_artifact(run, "progress", {"i": i})


if __name__ == "__main__":
    main()
