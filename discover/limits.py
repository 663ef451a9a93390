"""Bounds on every number a user or a file can set, in one place with nothing heavy imported, so that the command line
can check its options before anything heavy is loaded (``schemas`` and ``search.config`` use the same)."""
import re

# the devices a verb may run on (whether one is there is checked by ``api.check_device``)
DEVICE_NAME = re.compile(r"cpu|cuda(:\d+)?")
MAX_POPULATION = 100_000
MAX_GENERATIONS = 10_000
MAX_SEED = 2**32 - 1
MAX_FOLDS = 1_000
MAX_TREE_SIZE = 200
MAX_PID = 2**22          # Linux's pid_max ceiling
MAX_WIDTH = 65_536       # hidden / model / FFN widths of a benchmark model
MAX_LAYERS = 1_024
MAX_HEADS = 1_024
MAX_VOCABULARY = 10_000_000
