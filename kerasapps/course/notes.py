"""The course notes' table of ILSVRC networks as data, beside what the suite counts and the papers say.

`kerasapps models --notes` prints it. A value the notes give twice,
differently, is a contradiction ("60M / 61M"); a value that disagrees with the
paper or with the network the suite builds is marked in `remarks`. Each remark
is also an entry of docs/notes-errata.md. The notes' values are the ones issue 14
quotes from them; a field it does not quote is None (printed "-"). Year and rank
are the ILSVRC results.
"""

import dataclasses

import keras

from kerasapps.geometry import weighted_depth
from kerasapps.models import MODELS, build_model


@dataclasses.dataclass(frozen=True)
class NotesRow:
    """One network of the notes' table: the notes' values, the papers', and the suite's model."""

    network: str
    model: str  # the registered model the suite builds for it
    year: int
    rank: str
    notes_top5: str  # as the notes print them; "a / b" where they print two values
    notes_depth: str
    notes_params: str
    paper_top5: str
    paper_depth: int
    paper_params: str
    remarks: tuple = ()


NOTES_TABLE = (
    NotesRow(
        "AlexNet", "alexnet", 2012, "1st", None, "7", "60M / 61M", "15.3%", 8, "60M (two-GPU form)",
        (
            "params: the notes say 60M and 61M; the paper's 60M is the two-GPU form (groups=2: 60,965,224); "
            "one GPU gives 62,378,344 (61M is torchvision's single-tower variant)",
            "depth: the notes say 7; 5 conv + 3 dense layers = 8",
        ),
    ),
    NotesRow(
        "ZFNet", "zfnet", 2013, "1st", "14.8%", "8", "58M", "14.8%", 8, "not printed",
        ("params: Figure 3's layers give 62,357,608, not 58M (58.26M is that less the 1000-way classifier)",),
    ),
    NotesRow(
        "VGG", "vgg16", 2014, "2nd", "7.3% / 13.6%", None, None, "7.3%", 16, "138M (VGG-16), 144M (VGG-19)",
        ("top-5: the notes give 7.3% and 13.6%; the ILSVRC-2014 entry scored 7.3% (6.8% after the contest)",),
    ),
    NotesRow(
        "GoogLeNet", "googlenet", 2014, "1st", None, "19", "4M / 6M", "6.67%", 22,
        "6.8M (Table 1 sum; '12x fewer than AlexNet')",
        (
            "params: the notes say 4M and 6M; Table 1 sums to 6.8M and the suite builds 6,998,552",
            "depth: the notes say 19; the paper counts 22 layers with parameters, as the suite does",
        ),
    ),
    NotesRow(
        "ResNet(152)", "resnet152", 2015, "1st", None, "152", None, "3.57%", 152, "60.4M (keras.applications)",
    ),
)


def suite_counts(row):
    """(parameters, depth) of the network the suite builds for `row` (its Functional graph)."""
    model = keras_model(row.model)
    counts = model.count_params(), weighted_depth(model)
    keras.backend.clear_session()  # the VGGs hold over 500 MB of weights each
    return counts


def keras_model(name):
    """Build registered model `name` with the Functional graph where it has a choice."""
    return build_model(name, **({"api": "functional"} if "api" in MODELS.defaults(name) else {}))


def format_notes_table(rows, counts):
    """The table as text: the notes' columns, the suite's, the papers', and a ! beside each contradiction."""
    header = (
        f"{'network':<12}{'year':<6}{'rank':<6}{'notes: top-5':<14}{'depth':<9}{'params':<11}"
        f"{'| suite model':<14}{'params':>13}{'depth':>7}  | papers: top-5, depth, params"
    )
    lines = [header]
    for row, (params, depth) in zip(rows, counts):
        mark = "!" if row.remarks else " "
        lines.append(
            f"{row.network:<12}{row.year:<6}{row.rank:<6}{row.notes_top5 or '-':<14}{row.notes_depth or '-':<9}"
            f"{row.notes_params or '-':<11}| {row.model:<12}{params:>13,}{depth:>7}  | "
            f"{row.paper_top5}, {row.paper_depth}, {row.paper_params} {mark}"
        )
    lines.append("")
    lines.append("! where the notes contradict themselves or the papers:")
    for row in rows:
        lines.extend(f"  {row.network}: {remark}" for remark in row.remarks)
    return "\n".join(lines)
