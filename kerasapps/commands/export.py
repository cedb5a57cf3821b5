"""kerasapps export RUN: SavedModel and TFLite (LiteRT) files of a trained run, checked."""

import argparse

from kerasapps.commands.cli import add_common_arguments, add_location_arguments, add_set_argument, parse, prog, run_main


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("export"),
        description="Export a run as a SavedModel and TFLite files in <OUT>/<experiment>/, run each file "
        "with the LiteRT interpreter over the test split, and print and save a report "
        "(size, test accuracy, agreement with Keras, latency per input, ops).",
        epilog="Examples:\n"
        "  kerasapps export lenet                      # every variant\n"
        "  kerasapps export lenet --quantize int8 --io uint8\n"
        "  kerasapps export lenet --format c              # + model_data.cc/.h for TFLite Micro\n"
        "  kerasapps export saved_models/lenet/20260101-120000 --out /tmp/tflite",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", metavar="RUN", help="a run folder, or an experiment name for its newest run")
    parser.add_argument(
        "--quantize", default="all", choices=["none", "float16", "dynamic", "int8", "all"],
        help="none = float32; dynamic = int8 weights; int8 = full-integer, calibrated on the training split "
        "(default: all)",
    )
    parser.add_argument(
        "--io", default="float", choices=["float", "int8", "uint8"],
        help="input and output type of the int8 file (default: float)",
    )
    parser.add_argument(
        "--format", default="tflite", choices=["tflite", "c"],
        help="c: also write the int8 model as a C array (model_data.cc/.h) with the tensor-arena size it "
        "needs, for TensorFlow Lite Micro (default: tflite)",
    )
    parser.add_argument(
        "--recurrent", default="fused", choices=["fused", "unrolled"],
        help="how LSTM models become builtin ops: fused = one UNIDIRECTIONAL_SEQUENCE_LSTM op, one input per "
        "call; unrolled = every time step spelled out (GRU and bidirectional models are always unrolled; "
        "default: fused)",
    )
    parser.add_argument("--allow-flex", action="store_true", help="keep files that need Select TF (Flex) ops")
    parser.add_argument("--out", metavar="DIR", help="root of the exports (default: tflite)")
    add_set_argument(parser, help="override an export.* config value, e.g. export.representative_size=500")
    add_location_arguments(parser)
    add_common_arguments(parser)
    return parser


def main(argv):
    args = parse(build_parser(), argv)
    from kerasapps.deploy import export_run

    export_run(
        args.run, quantize=args.quantize, io=args.io, recurrent=args.recurrent, allow_flex=args.allow_flex, c_array=args.format == "c", out=args.out,
        data_dir=args.data_dir, runs_dir=args.runs_dir, overrides=args.overrides,
    )
    return 0


if __name__ == "__main__":
    run_main(main)
