import os
import sys

from identityctl.cli import run


def main() -> None:
    sys.exit(run(sys.argv[1:], os.environ, sys.stdout, sys.stderr))


if __name__ == "__main__":
    main()
