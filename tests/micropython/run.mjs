// Run a Python script under the MicroPython WebAssembly port, with firmware files on sys.path.
//
// Usage:
//   node run.mjs [--timeout SECONDS] DIR... SCRIPT
//
// Every .py file under each DIR (recursively, keeping subdirectories such as umqtt/simple.py;
// hidden directories and __pycache__ are skipped) is copied into /fw in MicroPython's in-memory
// filesystem. A file from a later DIR replaces one with the same relative path from an earlier
// DIR, so a test can put fakes after the firmware. /fw is put first on sys.path and becomes the
// current directory, as the flash root is on a board. SCRIPT is a file, or "-" to read the script
// text from standard input. Top-level `await` works in it (the port has no asyncio.run).
//
// MicroPython's stdout and stderr go to this process's stdout and stderr.
// Exit status: 0 on success; 1 when the script raised (the traceback goes to stderr);
// SystemExit's code when it called sys.exit(); 2 on bad usage; 124 when the time limit
// (default 60 s, 0 for none) ran out. The port's heap grows on demand: it does not model a
// board's memory.
//
// The interpreter runs in a worker thread so that a script stuck in a loop can be stopped; the
// worker sends its output and then its exit status to the main thread as messages, in order.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

const FW_DIR = "/fw";
const EXIT_RAISED = 1;
const EXIT_USAGE = 2;
const EXIT_TIMEOUT = 124;
const USAGE = "usage: node run.mjs [--timeout SECONDS] DIR... SCRIPT|-";

function parseArgs(argv) {
  const options = { timeout: 60, dirs: [], script: undefined };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--timeout") {
      const value = argv[++i];
      options.timeout = Number(value);
      if (value === undefined || !Number.isFinite(options.timeout) || options.timeout < 0) {
        throw new Error(`--timeout needs a number of seconds, got ${value}`);
      }
    } else if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    } else if (arg.startsWith("--")) {
      throw new Error(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  if (positional.length < 1) throw new Error("no script given");
  options.script = positional.pop();
  options.dirs = positional;
  return options;
}

// Relative path (with "/" separators) -> file contents, for every .py file under the directories.
function collectPyFiles(dirs) {
  const files = new Map();
  for (const root of dirs) {
    if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
      throw new Error(`not a directory: ${root}`);
    }
    const walk = (dir) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!entry.name.startsWith(".") && entry.name !== "__pycache__") walk(path);
        } else if (entry.name.endsWith(".py") && statSync(path).isFile()) {
          files.set(relative(root, path).split(sep).join("/"), readFileSync(path));
        }
      }
    };
    walk(root);
  }
  return files;
}

async function main(argv) {
  let options, files, script;
  try {
    options = parseArgs(argv);
    files = collectPyFiles(options.dirs);
    script = readFileSync(options.script === "-" ? 0 : options.script, "utf8");
  } catch (error) {
    process.stderr.write(`run.mjs: ${error.message}\n${USAGE}\n`);
    process.exit(EXIT_USAGE);
  }

  const worker = new Worker(new URL(import.meta.url), { workerData: { files, script } });
  let timer;
  worker.on("message", (message) => {
    if (message.status === undefined) {
      (message.fd === 2 ? process.stderr : process.stdout).write(message.bytes);
    } else {
      clearTimeout(timer);
      process.exitCode = message.status;
      worker.terminate();
    }
  });
  if (options.timeout > 0) {
    timer = setTimeout(async () => {
      await worker.terminate();
      process.stderr.write(`\nrun.mjs: time limit of ${options.timeout} s exceeded; stopped\n`);
      process.exit(EXIT_TIMEOUT);
    }, options.timeout * 1000);
  }
  worker.on("error", (error) => {
    process.stderr.write(`run.mjs: ${error.stack || error}\n`);
    process.exitCode = EXIT_RAISED;
  });
  worker.on("exit", (code) => {
    clearTimeout(timer);
    if (process.exitCode === undefined) process.exitCode = code;
  });
}

// Exit status for a SystemExit traceback, as CPython computes it; prints a message argument.
function systemExitStatus(traceback, err) {
  const match = /^SystemExit(?:: (.*))?$/m.exec(traceback);
  const arg = match && match[1] !== undefined ? match[1].trim() : "";
  if (arg === "" || arg === "None") return 0;
  if (/^-?\d+$/.test(arg)) return Number(arg) & 0xff;
  err.write(arg + "\n");
  return EXIT_RAISED;
}

async function runInWorker({ files, script }) {
  const { loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript");
  const out = new StreamBuffer(1);
  const err = new StreamBuffer(2);
  const mp = await loadMicroPython({
    linebuffer: false,
    stdout: (bytes) => out.push(bytes),
    stderr: (bytes) => err.push(bytes),
  });

  mp.FS.mkdirTree(FW_DIR);
  for (const [path, data] of files) {
    const target = `${FW_DIR}/${path}`;
    mp.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
    mp.FS.writeFile(target, data);
  }
  mp.runPython(`import os, sys\nsys.path.insert(0, ${JSON.stringify(FW_DIR)})\nos.chdir(${JSON.stringify(FW_DIR)})`);

  let status = 0;
  try {
    await mp.runPythonAsync(script);
  } catch (error) {
    out.flush();
    err.flush();
    if (error.name !== "PythonError") throw error;
    if (error.type === "SystemExit") {
      status = systemExitStatus(error.message, err);
    } else {
      err.write(error.message);
      status = EXIT_RAISED;
    }
  }
  out.flush();
  err.flush();
  parentPort.postMessage({ status });
}

// Collects MicroPython's output bytes for file descriptor fd and sends them to the main thread
// a whole line (or 4 KiB) at a time.
class StreamBuffer {
  constructor(fd) {
    this.fd = fd;
    this.bytes = [];
  }

  write(text) {
    this.push(new TextEncoder().encode(text));
    this.flush();
  }

  push(chunk) {
    for (const byte of chunk) {
      this.bytes.push(byte);
      if (byte === 10 || this.bytes.length >= 4096) this.flush();
    }
  }

  flush() {
    if (this.bytes.length === 0) return;
    parentPort.postMessage({ fd: this.fd, bytes: Uint8Array.from(this.bytes) });
    this.bytes = [];
  }
}

if (isMainThread) {
  await main(process.argv.slice(2));
} else {
  await runInWorker(workerData);
}
