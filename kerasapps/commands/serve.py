"""kerasapps serve RUN|FOLDER: the web app of an export, served with MediaPipe, until Ctrl-C."""

import argparse

from kerasapps import settings
from kerasapps.commands.cli import add_common_arguments, parse, prog, run_main


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("serve"),
        description="Serve the web app `kerasapps export` wrote (web/ beside the .tflite files): draw a digit or\n"
        "drop a photo, or type a review, and MediaPipe Tasks for web classifies it in the browser, on the\n"
        "CPU or the GPU (WebGL) delegate. MediaPipe's JS and WebAssembly come from the project's npm install\n"
        "(`npm ci` beside package.json), else from a pinned CDN URL.",
        epilog="Examples:\n"
        "  kerasapps serve lenet                     # the newest lenet run's export\n"
        "  kerasapps serve tflite/lenet --port 8080\n"
        "  kerasapps serve lenet --host 0.0.0.0      # a phone on the same network opens http://<this machine>:8000/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="RUN|FOLDER", help="an exported run (a folder or an experiment name) or an export folder")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument(
        "--runs-dir", metavar="DIR", default=settings.runs_dir(),
        help="root of run folders (default: $KERASAPPS_RUNS_DIR, else saved_models)",
    )
    add_common_arguments(parser)
    return parser


def main(argv):
    args = parse(build_parser(), argv)
    from kerasapps.config import list_experiments
    from kerasapps.deploy.web import make_server

    server, url, notes = make_server(
        args.source, host=args.host, port=args.port, runs_dir=args.runs_dir, experiments=list_experiments()
    )
    for note in notes:
        print(note)
    print(f"Serving {url}  (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped.")
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    run_main(main)
