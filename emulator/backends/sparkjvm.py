"""JVM options that make the local Spark driver start and run small jobs faster.

- `-XX:TieredStopAtLevel=1`: the C1 compiler only. Local jobs are short; C2's compiler threads would
  take one of two cores from them for most of a run (a cold session's start and first jobs use about
  half the CPU time with C1 only). A `-XX:TieredStopAtLevel=4` in the `[spark] conf`'s
  `spark.driver.extraJavaOptions` comes later on the command line, so it wins.
- A class-data-sharing archive of the classes Spark loads (AppCDS): the first driver JVM dumps one
  when it exits (`-XX:ArchiveClassesAtExit`), later ones map it (`-XX:SharedArchiveFile`), which
  halves their start. It lives in the user's cache (`$XDG_CACHE_HOME/sfn-local`, else
  `~/.cache/sfn-local`), keyed by the Java and PySpark installations, so every workspace shares it.
  The JVM checks an archive against its own build and class path and ignores one that does not
  match. One process dumps at a time; its JVM writes `<archive>.<pid>.tmp`, renamed into place only
  when the JVM exited cleanly. `SFN_LOCAL_SPARK_CDS=0` turns the archive off.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

CDS_ENV = "SFN_LOCAL_SPARK_CDS"
C1_ONLY = "-XX:TieredStopAtLevel=1"
DUMP_EXIT_SECONDS = 300.0  # a JVM writing its archive takes seconds (tens on a busy machine) to exit
_pending: Path | None = None  # the archive this process's JVM writes when it exits


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sfn-local"


def archive_path() -> Path | None:
    """Where the archive for this Java and PySpark lives; None when they cannot be found."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if java is None:
        return None
    try:
        import pyspark

        java_file = Path(java).resolve(strict=True)
        jars = Path(pyspark.__file__).parent / "jars"
        marks = [str(java_file), str(java_file.stat().st_mtime_ns), pyspark.__version__, str(jars),
                 str(jars.stat().st_mtime_ns)]
    except (ImportError, OSError):
        return None
    key = hashlib.sha256("\0".join(marks).encode()).hexdigest()[:16]
    return cache_dir() / f"spark-driver-{key}.jsa"


def _dumping_elsewhere(archive: Path) -> bool:
    """Whether a live process is writing this archive; stale temporary files of dead ones are removed."""
    busy = False
    for tmp in archive.parent.glob(f"{archive.name}.*.tmp"):
        pid = tmp.name.removeprefix(f"{archive.name}.").removesuffix(".tmp")
        try:
            os.kill(int(pid), 0)
            busy = True
        except (ValueError, ProcessLookupError):
            tmp.unlink(missing_ok=True)
        except PermissionError:
            busy = True
    return busy


def driver_options() -> str:
    """The options the driver JVM starts with (before the user's extraJavaOptions)."""
    global _pending
    options = [C1_ONLY]
    archive = None if os.environ.get(CDS_ENV, "1") == "0" else archive_path()
    if archive is None:
        return " ".join(options)
    if archive.is_file():
        options.append(f"-XX:SharedArchiveFile={archive}")
    else:
        try:
            archive.parent.mkdir(parents=True, exist_ok=True)
            if not _dumping_elsewhere(archive):
                _pending = archive.parent / f"{archive.name}.{os.getpid()}.tmp"
                _pending.touch()  # tells other processes this one dumps
                # The dump warns about every class it cannot keep (signed jars, generated ones): not worth a log.
                options += [f"-XX:ArchiveClassesAtExit={_pending}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
        except OSError:
            pass  # no cache directory: start without an archive
    return " ".join(options)


def exit_seconds() -> float:
    """How long to let the driver JVM exit before killing it: longer while it writes the archive."""
    return DUMP_EXIT_SECONDS if _pending is not None else 10.0


def exited(process: subprocess.Popen[bytes]) -> None:
    """The driver JVM has ended: keep the archive it wrote if it ended cleanly, else drop it."""
    global _pending
    tmp, _pending = _pending, None
    if tmp is None:
        return
    try:
        if process.returncode == 0 and tmp.is_file():
            os.replace(tmp, tmp.parent / tmp.name.rsplit(".", 2)[0])
        else:
            tmp.unlink(missing_ok=True)
    except OSError:
        pass  # a cache we cannot write: the next JVM starts without an archive
