"""The multi-host test bed of Tests/TestBed/cluster-start, seen from the tests:
hosts as network namespaces on a bridge, ranks launched on them by `miniapp
launch` (mpirun's or Hydra's rsh launcher), links cut and joined again,
processes found per host."""

import os
import subprocess
import time
from pathlib import Path

from conftest import MINIAPP, REPO, environment_of, mpi_family

# Messages between ranks over TCP only, not shared memory (the hosts share one kernel).
TCP_ONLY = {"openmpi": ["OMPI_MCA_btl=tcp,self"], "mpich": ["UCX_TLS=tcp,self", "FI_PROVIDER=tcp"]}


class TestBed:
    __test__ = False   # not a test class

    def __init__(self, directory):
        self.directory = Path(directory)
        self.hosts = [line.split()[0] for line in (self.directory / "hosts").read_text().splitlines()]
        self.namespaces = {line.split()[0]: line.split()[2] for line in (self.directory / "hosts").read_text().splitlines()}
        self.env = environment_of(self.directory / "env")
        self.slots = int((self.directory / "hostfile").read_text().split("slots=")[1].split()[0])

    @classmethod
    def start(cls, hosts=3, delay=None):
        """A new test bed (its links `delay` long, e.g. "200us"), or the reason
        why this machine cannot make one."""
        if os.geteuid() != 0:
            return None, "network namespaces and links need root (CI runs as root)"
        started = subprocess.run([str(REPO / "Tests/TestBed/cluster-start"), "--hosts", str(hosts),
                                  *(["--delay", delay] if delay else [])], capture_output=True, text=True, timeout=120)
        if started.returncode == 2:
            return None, f"this machine cannot make a test bed of hosts: {started.stderr.strip()}"
        assert started.returncode == 0, started.stderr
        return cls(started.stdout.strip().splitlines()[-1]), None

    def stop(self):
        subprocess.run([str(REPO / "Tests/TestBed/cluster-stop"), str(self.directory)], timeout=120)

    def hostfile(self, hosts, directory):
        """A hostfile of these hosts (names or how many of the first)."""
        names = self.hosts[:hosts] if isinstance(hosts, int) else list(hosts)
        path = Path(directory) / f"hostfile-{'-'.join(names)}"
        path.write_text("".join(f"{name} slots={self.slots}\n" for name in names))
        return path

    def launch_command(self, binary, hosts, np, directory, tcp_only=True, launch_args=()):
        """`binary launch` on these hosts (a number of the first, or names), a rank on each in turn;
        miniapp's arguments follow it."""
        transports = [f"--env={v}" for v in TCP_ONLY[mpi_family(binary)]] if tcp_only else []
        return [str(binary), "launch", "--hostfile", str(self.hostfile(hosts, directory)), "--round-robin",
                "-n", str(np), *transports, *map(str, launch_args), "--"]

    def popen(self, arguments, hosts, np, directory, env=None, binary=MINIAPP, **options):
        """miniapp ARGUMENTS started over the hosts, not waited for."""
        command = self.launch_command(binary, hosts, np, directory, **options) + [*map(str, arguments)]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=directory,
                                env={**self.env, **(env or {})})

    def link(self, host, state):
        subprocess.run([str(REPO / "Tests/TestBed/cluster-link"), str(self.directory), host, state], check=True, timeout=30)

    def pids(self, host, name=None):
        """Processes in the host's namespace (only those named `name`, if given)."""
        listed = subprocess.run(["ip", "netns", "pids", self.namespaces[host]], capture_output=True, text=True).stdout
        pids = [int(p) for p in listed.split()]
        if name is None:
            return pids
        found = []
        for pid in pids:
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                    found.append(pid)
            except OSError:
                pass
        return found

    def wait_until_empty(self, seconds=10):
        """True once no host runs a process any more."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not any(self.pids(host) for host in self.hosts):
                return True
            time.sleep(0.2)
        return False
