"""What every tcc command does with errors: one line on stderr, exit code 1,
never a Python traceback for a user's mistake."""

from __future__ import annotations

import sys
from typing import Callable

from .errors import TccError


def guarded_main(body: Callable[[], int]) -> int:
    try:
        return body()
    except TccError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
