"""The MANO makers' own loading code, run in `.venv-oracle-mano` (`make oracle-mano`) in a subprocess, never imported
by pytest (`tests/oracle/fixture_mano.py` runs it):

    python tests/oracle/mano/run.py <maker> <args...>

runs `run(*args)` of the module `<maker>.py` beside this file (one module per maker: `arctic`, `taco`, `hoi4d`,
`vitra`; `model` writes a MANO model in MANO's own pickle layout). Each maker module takes the folder of the maker's
fetched code (a real sample), the sequence's files in the maker's own layout, a folder of MANO pickles and an output
`.npz`, and writes the maker's keypoints there, in the maker's own joint order. A new maker is a new module here.
"""

from __future__ import annotations

import importlib
import sys

if __name__ == "__main__":
    importlib.import_module(sys.argv[1]).run(*sys.argv[2:])
