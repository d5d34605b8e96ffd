# -*- Python -*-
# lit configuration of tcc's FileCheck tests: `lit -v test/` from the repo root.

import os
import shutil
import sys
import sysconfig

import lit.formats

config.name = "tcc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".py"]
config.test_source_root = os.path.dirname(__file__)
# Output/ directories under test/ are gitignored.
config.test_exec_root = config.test_source_root
# pytest tests live in test/python (run_suite.py runs both suites); Inputs/
# hold files that RUN lines read.
config.excludes = ["python", "lit.cfg.py", "Inputs", "run_suite.py"]

# tcc-opt, tcc and filecheck are console scripts of the current Python.
scripts = sysconfig.get_path("scripts")
python_dir = os.path.dirname(sys.executable)
path = os.pathsep.join([scripts, python_dir, os.environ.get("PATH", "")])
config.environment["PATH"] = path
if "HOME" in os.environ:
    config.environment["HOME"] = os.environ["HOME"]

# FileCheck via the filecheck package.
filecheck = shutil.which("filecheck", path=path)
filecheck_command = filecheck if filecheck else f"{sys.executable} -m filecheck"

config.substitutions.append(("%PYTHON", sys.executable))
config.substitutions.append(("FileCheck", filecheck_command))

# The TTE paper's int8 models are another project's data, read in place from
# ../shared beside the repository; tests that need them say `REQUIRES: tte-models`.
tte_models = os.path.join(os.path.dirname(config.test_source_root), "..", "shared",
                          "models", "tte")
if os.path.isfile(os.path.join(tte_models, "mcunet-5fps.json")):
    config.available_features.add("tte-models")
    config.substitutions.append(("%tte_models", os.path.abspath(tte_models)))
