"""Context-grounded training data: QA sources (files, public benchmarks, a teacher model), relevance
labelling, context planning with THE retriever, targets, token budget, validation, splits by
document, and the stored dataset (Example JSONL + exports + card).

Light to import: the KB, tokenizers and HTTP clients load inside the functions that need them.
"""

from groundtune.data.build import BuildResult, build_dataset
from groundtune.data.config import BuildConfig, SourceSpec, load_config
from groundtune.data.public import PublicQA, load_clapnq, load_nq_open_oracle
from groundtune.data.sources import QAPair, load_qa_file, write_qa_file
from groundtune.data.store import (
    DatasetCard,
    dataset_dir,
    list_datasets,
    load_card,
    load_dataset,
    load_report,
    write_exports,
)
from groundtune.data.teacher import TeacherConfig, TeacherResult, generate_qa

__all__ = [
    "BuildConfig",
    "BuildResult",
    "DatasetCard",
    "PublicQA",
    "QAPair",
    "SourceSpec",
    "TeacherConfig",
    "TeacherResult",
    "build_dataset",
    "dataset_dir",
    "generate_qa",
    "list_datasets",
    "load_card",
    "load_clapnq",
    "load_config",
    "load_dataset",
    "load_nq_open_oracle",
    "load_qa_file",
    "load_report",
    "write_exports",
    "write_qa_file",
]
