"""Builds tcc: CMake compiles the train dialect and tcc's MLIR Python package
(`tcc._mlir`), setuptools packages the repository root as `tcc`."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUILD_DIR = Path(os.environ.get("TCC_CMAKE_BUILD_DIR", ROOT / "build"))
MLIR_PACKAGE = BUILD_DIR / "python_packages" / "tcc" / "_mlir"
SUBPACKAGES = ["compiler", "compiler.frontends", "compiler.targets", "dialects", "passes",
               "kernels", "kernels.triton", "runtime"]


def _find_cmake_dir(package: str) -> Path:
    """Locates `<package>/lib/cmake/<package>` from the xtc-*-dev wheels."""
    for entry in map(Path, sys.path):
        candidate = entry / package / "lib" / "cmake" / package
        if (candidate / f"{package.upper()}Config.cmake").exists():
            return candidate
    raise RuntimeError(
        f"{package.upper()}Config.cmake not found on sys.path: install "
        "xtc-mlir-dev==22.1.8.4 and xtc-llvm-dev==22.1.8.2 (see README)")


def _cmake_build() -> None:
    if not (BUILD_DIR / "build.ninja").exists():
        subprocess.check_call([
            "cmake", "-S", str(ROOT), "-B", str(BUILD_DIR), "-G", "Ninja",
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DMLIR_DIR={_find_cmake_dir('mlir')}",
            f"-DLLVM_DIR={_find_cmake_dir('llvm')}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DPython3_EXECUTABLE={sys.executable}",
        ])
    subprocess.check_call(["cmake", "--build", str(BUILD_DIR), "--target", "TccPythonModules"])


class CMakeBuildPy(build_py):
    """Runs the CMake build, then places `_mlir` inside the `tcc` package."""

    def run(self):
        _cmake_build()
        super().run()
        if self.editable_mode:
            link = ROOT / "_mlir"
            if link.is_symlink() or link.is_file():
                link.unlink()
            elif link.is_dir():
                shutil.rmtree(link)
            link.symlink_to(MLIR_PACKAGE, target_is_directory=True)
        else:
            shutil.copytree(MLIR_PACKAGE, Path(self.build_lib) / "tcc" / "_mlir",
                            symlinks=True, dirs_exist_ok=True)


setup(
    packages=["tcc"] + [f"tcc.{name}" for name in SUBPACKAGES],
    package_dir={"tcc": "."},
    package_data={
        "tcc.kernels": ["c/*.c", "c/*.h"],
        "tcc.runtime": ["cortex_m/*", "qemu_plugin/*"],
        "tcc.compiler": ["examples/*"],
    },
    cmdclass={"build_py": CMakeBuildPy},
)
