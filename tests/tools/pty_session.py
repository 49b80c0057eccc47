#!/usr/bin/python3
r"""Drive an interactive program through a pseudo-terminal, for the REPL specs.

usage: pty_session.py STEPS_FILE COMMAND [ARGS...]

The command runs as the session leader of a new pseudo-terminal, so it sees a
terminal on stdin and Ctrl-C reaches it as SIGINT. STEPS_FILE holds one step a line:

    > TEXT     type TEXT and Enter, then wait for the next prompt
    ! TEXT     type TEXT and Enter, then wait 0.3 s (the code keeps running)
    ^C         type Ctrl-C, then wait for the next prompt
    ^D         type Ctrl-D, then wait for the program to exit

TEXT may hold Python escapes (\x1b[A is the Up arrow). Before the first step
the driver waits for the first prompt. A prompt is "hasme> " or ">> ".
Everything the terminal showed is printed, carriage returns removed, followed by
a last line "[exit N]" (or "[timeout]" when the program stopped answering within
5 s, after which it is killed). COMMAND is looked up in PATH.
"""
import codecs
import os
import pty
import re
import select
import signal
import sys
import time

PROMPT = re.compile(rb"hasme> |>> ")
TIMEOUT = 5.0


class Session:
    def __init__(self, argv):
        pid, fd = pty.fork()
        if pid == 0:
            os.environ["TERM"] = "dumb"
            try:
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.out = b""
        self.prompts = 0     # prompts seen so far
        self.status = None

    def read(self, timeout):
        """Read what is available within timeout; False at end of output."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:      # EIO: the slave side was closed
            return False
        if not data:
            return False
        self.out += data
        return True

    def wait_prompt(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if len(PROMPT.findall(self.out)) > self.prompts:
                self.prompts = len(PROMPT.findall(self.out))
                return True
            if not self.read(0.05):
                return False
        raise TimeoutError

    def wait_exit(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            alive = self.read(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid != 0:
                while self.read(0.05) and select.select([self.fd], [], [], 0)[0]:
                    pass
                self.status = os.waitstatus_to_exitcode(status)
                return
            if not alive:
                time.sleep(0.01)
        raise TimeoutError

    def send(self, data):
        os.write(self.fd, data)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        steps = [line.rstrip("\n") for line in f if line.strip()]
    s = Session(sys.argv[2:])
    try:
        s.wait_prompt()
        for step in steps:
            text = codecs.decode(step[2:], "unicode_escape").encode()
            if step.startswith("> "):
                s.send(text + b"\r")
                s.wait_prompt()
            elif step.startswith("! "):
                s.send(text + b"\r")
                deadline = time.monotonic() + 0.3
                while time.monotonic() < deadline:
                    s.read(0.05)
                s.prompts = len(PROMPT.findall(s.out))
            elif step == "^C":
                s.send(b"\x03")
                s.wait_prompt()
            elif step == "^D":
                s.send(b"\x04")
                s.wait_exit()
            else:
                sys.exit("pty_session.py: bad step: " + step)
        if s.status is None:
            s.wait_exit()
        tail = "[exit %d]" % s.status
    except TimeoutError:
        os.kill(s.pid, signal.SIGKILL)
        os.waitpid(s.pid, 0)
        tail = "[timeout]"
    sys.stdout.write(s.out.decode("utf-8", "replace").replace("\r", ""))
    sys.stdout.write("\n" + tail + "\n")


if __name__ == "__main__":
    main()
