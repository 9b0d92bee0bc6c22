"""pip bootstrap for ansible-test on machines that reach only the package registries.

ansible-test creates a virtual environment without pip for each sanity test and runs a cached "get-pip" script in
it with pip's own arguments. This script plays that part: it installs the pip bundled with Python (ensurepip) and
then runs pip with the arguments it was given, so the requested pip version comes from the configured package index.
"""

import ensurepip
import os
import sys

ensurepip.bootstrap(upgrade=True, default_pip=True)
# ensurepip hides the machine's pip configuration (index, certificates) while it runs; give it back.
os.environ.pop("PIP_CONFIG_FILE", None)

from pip._internal.cli.main import main  # noqa: E402

# get-pip takes pip's install arguments plus two flags of its own.
arguments = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", *arguments]))
