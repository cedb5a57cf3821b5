"""TFLite metadata: what lets a phone's client library (MediaPipe Tasks) use a .tflite file alone.

    content = with_metadata(content, describe_image_classifier(name=..., ...), files)
    facts = read_metadata(content)      # kind, labels, size, normalization, tokenizer

The metadata is a flatbuffer (schema `metadata_schema.fbs`, "M001") stored in
one of the model's buffers under the name TFLITE_METADATA; its associated files
(labels, vocabulary) are a zip archive appended to the model. The flatbuffer is
built with MediaPipe's own metadata builders (`metadata_writers.metadata_info`)
and generated schema modules, and packed here with `flatbuffers`:
MediaPipe's `MetadataPopulator` cannot be imported from its 1.x wheels (it needs
`mediapipe.tasks.cc`, a C++ module they no longer ship), and the packages whose
populator works (mediapipe 0.10.21, tflite-support 0.4.4) pin protobuf below
what TensorFlow 2.21 needs. docs/phones.md tells the whole story.
"""

import functools
import io
import re
import zipfile

import flatbuffers
import numpy as np

from kerasapps.errors import UserError
from kerasapps.settings import native_output_silenced

METADATA_NAME = "TFLITE_METADATA"
LABELS_FILE = "labels.txt"
VOCABULARY_FILE = "tokenizer_vocabulary.txt"
INSTALL = "pip install 'kerasapps[phones]'"
# The oldest metadata parser that understands every field written here
# (metadata_schema.fbs, "Schema Semantic version"): RegexTokenizerOptions came in 1.2.1;
# image classifiers use fields of 1.0.0 only.
PARSER_VERSION = {"image": "1.0.0", "text": "1.2.1"}
# Tokens the regex tokenizer looks up by name (mediapipe regex_tokenizer.cc).
PAD, UNKNOWN = "<PAD>", "<UNKNOWN>"
# What an app does to a camera frame or a drawing before the classifier sees it (`data.user_images`
# does it in Python); MediaPipe itself only resizes the frame. The input tensor's description says
# it, ending "(layout: NAME)", which `read_metadata` reads back.
PREPARATION = {
    "mnist": "Prepare each frame as MNIST's digits were made: white strokes on black (invert dark ink on "
    "light paper; a transparent drawing's strokes are its alpha), the ink cropped, scaled to fit "
    "{box}x{box} keeping its aspect ratio and placed with its centre of mass at the centre",
    "resize": "Resize the frame's shorter side to the input's and crop the centre",
}
LAYOUT_MARK = re.compile(r"\(layout: (\w+)\)\s*$")


@functools.cache
def _schemas():
    """MediaPipe's generated schema modules and metadata builders (the `phones` extra)."""
    try:
        with native_output_silenced(2):  # importing mediapipe loads TensorFlow, which prints a banner
            from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_fb
            from mediapipe.tasks.metadata import schema_py_generated as model_fb
            from mediapipe.tasks.python.metadata.metadata_writers import metadata_info
    except ImportError:
        raise UserError(f"Writing and reading TFLite metadata needs MediaPipe: {INSTALL}") from None
    return metadata_fb, model_fb, metadata_info


# --- describing a classifier ------------------------------------------------------


def describe_image_classifier(*, name, description, size, layout="resize", io="float"):
    """Metadata of an image classifier whose input is RGB pixels 0..255 at `size` (height, width),
    prepared as `layout` says (`PREPARATION`).

    `io` is the file's input and output type ("float", "int8", "uint8"). A float
    input gets the normalization mean 0, std 1, which tells MediaPipe to feed pixel
    values as they are (the graph scales them itself); an integer input takes raw
    bytes and must carry no normalization.
    """
    metadata_fb, _, info = _schemas()
    height, width = size
    integer_input = io != "float"
    tensor_type = _tensor_type(io)
    general = info.GeneralMd(name=name, description=description, version="1").create_metadata()
    image = info.InputImageTensorMd(
        name="image",
        description=f"RGB image, {height}x{width} pixels, values 0..255. "
        f"{PREPARATION[layout].format(box=round(20 / 28 * min(size)))} (layout: {layout})",
        norm_mean=None if integer_input else [0.0],
        norm_std=None if integer_input else [1.0],
        color_space_type=metadata_fb.ColorSpaceType.RGB,
        tensor_type=tensor_type,
    ).create_metadata()
    return _classifier(general, image, tensor_type), "image"


def describe_text_classifier(*, name, description, delimiter):
    """Metadata of a text classifier that takes token ids from the regex tokenizer
    (`delimiter` splits the text; the vocabulary file maps tokens to ids)."""
    info = _schemas()[2]
    general = info.GeneralMd(name=name, description=description, version="1").create_metadata()
    text = info.InputTextTensorMd(
        name="text", description="Raw text, split by the regex tokenizer and looked up in its vocabulary.",
        tokenizer_md=info.RegexTokenizerMd(delimiter, VOCABULARY_FILE),
    ).create_metadata()
    return _classifier(general, text, _tensor_type("float")), "text"


def _tensor_type(io):
    model_fb = _schemas()[1]
    return {"float": model_fb.TensorType.FLOAT32, "int8": model_fb.TensorType.INT8, "uint8": model_fb.TensorType.UINT8}[io]


def _classifier(general, input_metadata, tensor_type):
    metadata_fb, _, info = _schemas()
    scores = info.ClassificationTensorMd(
        name="probability", description="Probability of each class (the labels file names them).",
        label_files=[info.LabelFileMd(LABELS_FILE)], tensor_type=tensor_type,
    ).create_metadata()
    subgraph = metadata_fb.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [input_metadata]
    subgraph.outputTensorMetadata = [scores]
    general.subgraphMetadata = [subgraph]
    return general


def vocabulary_lines(vocabulary):
    """The regex tokenizer's vocabulary file ("token id" a line) for a Keras vocabulary
    (0 = padding, 1 = unknown word, then lower-case words without punctuation).

    The tokenizer neither lower-cases nor strips punctuation, as our training's
    standardization does; so every word also appears Capitalized and in CAPITALS, and
    with the English contractions' apostrophe ("dont" as "don't"), under the same id.
    """
    lines = [f"{PAD} 0", f"{UNKNOWN} 1"]
    for index, word in enumerate(vocabulary[2:], start=2):
        forms = {word}
        for suffix in ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m"):
            bare = suffix.replace("'", "")
            if word.endswith(bare) and len(word) > len(bare):
                forms.add(word[: -len(bare)] + suffix)
        for form in sorted(forms):
            lines.extend(f"{variant} {index}" for variant in dict.fromkeys((form, form.capitalize(), form.upper())))
    return "".join(line + "\n" for line in lines)


# --- writing ----------------------------------------------------------------------


def with_metadata(content, described, files):
    """`content` (a .tflite flatbuffer) with metadata `described` and associated `files`
    ({name: bytes}) packed in, as MediaPipe's MetadataPopulator would."""
    metadata, kind = described
    metadata_fb, model_fb, _ = _schemas()
    metadata.minParserVersion = PARSER_VERSION[kind]
    builder = flatbuffers.Builder(0)
    builder.Finish(metadata.Pack(builder), b"M001")
    model = model_fb.ModelT.InitFromObj(model_fb.Model.GetRootAsModel(content, 0))
    buffer = model_fb.BufferT()
    buffer.data = np.frombuffer(bytes(builder.Output()), np.uint8)
    model.buffers = (model.buffers or []) + [buffer]
    entry = model_fb.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata = [m for m in model.metadata or [] if m.name.decode() != METADATA_NAME] + [entry]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), b"TFL3")
    packed = io.BytesIO(bytes(builder.Output()))
    packed.seek(0, io.SEEK_END)
    with zipfile.ZipFile(packed, "a") as archive:  # appended after the flatbuffer, which ignores it
        for name, data in files.items():
            archive.writestr(name, data)
    return packed.getvalue()


# --- reading ----------------------------------------------------------------------


def read_metadata(content, *, what="the file"):
    """What a classifier's metadata says, as a dict: `name`, `description`, `kind` ("image" or "text"),
    `labels`, and `size` (height, width), `normalized` and `layout` for images, or
    `delimiter` and `vocabulary` ({token: id}) for text.

    Raises:
        UserError: the file has no TFLite metadata, or not the labels or tokenizer it needs.
    """
    metadata_fb, model_fb, _ = _schemas()
    model = model_fb.Model.GetRootAsModel(content, 0)
    buffers = [model.Metadata(i).Buffer() for i in range(model.MetadataLength()) if model.Metadata(i).Name() == METADATA_NAME.encode()]
    if not buffers:
        raise UserError(
            f"{what} has no TFLite metadata (labels, input description); export it with "
            "`kerasapps export RUN`, which writes it into every file."
        )
    raw = model.Buffers(buffers[0]).DataAsNumpy().tobytes()
    metadata = metadata_fb.ModelMetadataT.InitFromObj(metadata_fb.ModelMetadata.GetRootAsModelMetadata(raw, 0))
    files = _associated_files(content)
    subgraph = metadata.subgraphMetadata[0]
    tensor = subgraph.inputTensorMetadata[0]
    output = subgraph.outputTensorMetadata[0]
    label_files = [f.name.decode() for f in output.associatedFiles or []]
    if not label_files or label_files[0] not in files:
        raise UserError(f"{what} has metadata but no labels file: export it again with `kerasapps export RUN`.")
    facts = {
        "name": (metadata.name or b"").decode(), "description": (metadata.description or b"").decode(),
        "labels": _lines(files[label_files[0]]),
    }
    tokenizers = [u.options for u in tensor.processUnits or [] if u.optionsType == metadata_fb.ProcessUnitOptions.RegexTokenizerOptions]
    if tokenizers:
        facts.update(
            kind="text", delimiter=tokenizers[0].delimRegexPattern.decode(),
            vocabulary=vocabulary_ids(files[tokenizers[0].vocabFile[0].name.decode()]),
        )
    else:
        shape = model.Subgraphs(0).Tensors(model.Subgraphs(0).Inputs(0)).ShapeAsNumpy()
        layout = LAYOUT_MARK.search((tensor.description or b"").decode())  # files exported before layouts: resize
        facts.update(
            kind="image", size=(int(shape[1]), int(shape[2])), normalized=bool(tensor.processUnits),
            layout=layout.group(1) if layout else "resize",
        )  # fmt: skip
    return facts


def vocabulary_ids(content):
    """{token: id} of a regex tokenizer's vocabulary file (the bytes `vocabulary_lines` writes)."""
    return {token: int(index) for token, index in (line.rsplit(" ", 1) for line in _lines(content))}


def _lines(content):
    """An associated file's lines, split at "\n" only, as MediaPipe reads them: a review's word
    may hold a character that str.splitlines also splits at (IMDB has U+0085)."""
    return [line for line in content.decode().split("\n") if line]


def _associated_files(content):
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    except zipfile.BadZipFile:
        return {}


def tokenize(texts, facts, length):
    """Token ids (N, length) of `texts`, as MediaPipe's regex tokenizer makes them from the
    file's own delimiter and vocabulary: unknown tokens get <UNKNOWN>'s id, the rest is <PAD>."""
    delimiter = re.compile(facts["delimiter"])
    vocabulary = facts["vocabulary"]
    ids = np.full((len(texts), length), vocabulary.get(PAD, 0), np.int32)
    for row, text in enumerate(texts):
        tokens = [token for token in delimiter.split(text) if token][:length]
        ids[row, : len(tokens)] = [vocabulary.get(token, vocabulary.get(UNKNOWN, 0)) for token in tokens]
    return ids
