"""A small ``adb`` wrapper: locate it, list devices, read device facts, push/pull, run shell commands.

Every adb failure becomes an :class:`~benchmarks.errors.AdbError` (adb itself unusable) or a
:class:`~benchmarks.errors.DeviceError` (this device unusable) whose message says what to do.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import AdbError, DeviceError
from .parsers import adb as adb_parsers

PLATFORM_TOOLS = "https://developer.android.com/tools/releases/platform-tools"
EXIT_MARK = "EDGEKIT_EXIT="
#: getprop keys recorded in the report (name in the report -> property).
DEVICE_PROPS = {
    "model": "ro.product.model", "manufacturer": "ro.product.manufacturer", "brand": "ro.product.brand",
    "device": "ro.product.device", "soc_model": "ro.soc.model", "soc_manufacturer": "ro.soc.manufacturer",
    "board_platform": "ro.board.platform", "hardware": "ro.hardware", "android_release": "ro.build.version.release",
    "sdk": "ro.build.version.sdk", "abi": "ro.product.cpu.abi", "abilist": "ro.product.cpu.abilist",
    "build_fingerprint": "ro.build.fingerprint",
}
_STATE_HINTS = {
    "unauthorized": "unlock the phone and accept the 'Allow USB debugging?' prompt (or revoke and re-accept "
                    "USB debugging authorisations in Developer options), then run again",
    "offline": "reconnect the cable or run `adb kill-server && adb start-server`; a device that stays offline "
               "may need a reboot",
    "authorizing": "wait for the device to finish authorising and run again",
    "no permissions": "add a udev rule for the device (https://developer.android.com/studio/run/device) and replug it",
}


class Adb:
    """Runs ``adb`` (``executable``) with a per-command timeout in seconds."""

    def __init__(self, executable: str, timeout: float = 60.0) -> None:
        self.executable = executable
        self.timeout = timeout

    @classmethod
    def locate(cls, explicit: Optional[str] = None, timeout: float = 60.0) -> "Adb":
        path = shutil.which(explicit or "adb")
        if path is None:
            raise AdbError(f"adb not found ({'not executable: ' + explicit if explicit else 'not on PATH'})",
                           subject="adb", hint=f"install Android SDK platform-tools ({PLATFORM_TOOLS}) and put adb on "
                                                "PATH, or pass --adb /path/to/adb")
        return cls(path, timeout)

    def run(self, args: Sequence[str], serial: Optional[str] = None, timeout: Optional[float] = None,
            check: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.executable, *(["-s", serial] if serial else []), *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or self.timeout)
        except FileNotFoundError:
            raise AdbError("adb disappeared or cannot be executed", subject=self.executable,
                           hint=f"reinstall platform-tools ({PLATFORM_TOOLS})") from None
        except subprocess.TimeoutExpired:
            raise DeviceError(f"`adb {' '.join(args)[:80]}` timed out after {timeout or self.timeout:.0f} s",
                              subject=serial or "adb", hint="check the cable/connection, or raise --timeout") from None
        if check and proc.returncode != 0:
            raise self._failure(proc, args, serial)
        return proc

    def _failure(self, proc: subprocess.CompletedProcess, args: Sequence[str], serial: Optional[str]) -> Exception:
        text = f"{proc.stderr}\n{proc.stdout}".strip()
        last = next((line.strip() for line in reversed(text.splitlines()) if line.strip()),
                    f"exit code {proc.returncode}")
        lower = text.lower()
        for state, hint in _STATE_HINTS.items():
            if f"device {state}" in lower or f"device is {state}" in lower:
                return DeviceError(f"device is {state} ({last})", subject=serial or "adb", hint=hint)
        if "not found" in lower and ("device" in lower or "no devices" in lower):
            return DeviceError(f"device not found ({last})", subject=serial or "adb",
                               hint="check `adb devices -l`; the device may have been disconnected")
        what = args[0] if args and args[0] in ("push", "pull") else f"adb {args[0] if args else ''}"
        return DeviceError(f"{what} failed: {last}", subject=serial or "adb",
                           hint="check free space and that the remote folder is writable (see the adb message)"
                           if what in ("push", "pull") else "see the adb message")

    # ------------------------------------------------------------------ queries
    def devices(self) -> List[adb_parsers.AdbDevice]:
        proc = self.run(["devices", "-l"], check=False)
        if proc.returncode != 0:
            raise AdbError(f"`adb devices -l` failed: {(proc.stderr or proc.stdout).strip() or proc.returncode}",
                           subject=self.executable, hint="run `adb kill-server && adb start-server` and try again")
        return adb_parsers.parse_devices(proc.stdout)

    def shell(self, serial: str, command: str, timeout: Optional[float] = None) -> str:
        """Stdout of ``adb shell <command>`` (adb-level failures raise DeviceError)."""
        return self.run(["shell", command], serial, timeout).stdout

    def shell_status(self, serial: str, command: str, timeout: Optional[float] = None,
                     what: Optional[str] = None) -> Tuple[int, str]:
        """``(exit status of command, stdout)``; the status is echoed after the command, which
        also works with old adb versions that do not forward remote exit codes. ``what`` names the
        command in errors (default: its first 60 characters)."""
        proc = self.run(["shell", f"{command}; echo {EXIT_MARK}$?"], serial, timeout, check=False)
        out = proc.stdout.replace("\r\n", "\n")
        head, sep, tail = out.rpartition(EXIT_MARK)
        if not sep or not tail.strip().isdigit():
            raise DeviceError(f"lost the connection during `{what or command[:60] + '...'}` (no exit status came back; "
                              f"adb said: {(proc.stderr or proc.stdout).strip()[-200:] or 'nothing'})",
                              subject=serial, hint="check the cable and `adb devices -l`, then run again")
        return int(tail.strip()), head

    def push(self, serial: str, local: Path, remote: str) -> None:
        self.run(["push", str(local), remote], serial)

    def pull(self, serial: str, remote: str, local: Path) -> None:
        self.run(["pull", remote, str(local)], serial)

    def properties(self, serial: str) -> Dict[str, Optional[str]]:
        props = adb_parsers.parse_getprop(self.shell(serial, "getprop"))
        return {name: props.get(key) or None for name, key in DEVICE_PROPS.items()}

    def thermal(self, serial: str) -> Dict[str, object]:
        return adb_parsers.parse_thermal(self.shell(serial, "dumpsys thermalservice"))

    def cpu_max_freqs(self, serial: str) -> Dict[int, int]:
        script = ("for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/cpuinfo_max_freq; "
                  "do echo \"$f $(cat $f)\"; done")
        return adb_parsers.parse_cpu_max_freqs(self.shell(serial, script))


def quote(text: str) -> str:
    return shlex.quote(text)
