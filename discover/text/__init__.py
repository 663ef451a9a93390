"""Real English text: the pinned NLTK corpora, their fixed splits by document, the tokenizer trained on them and
their token ids, and the sentence-classification tasks (``tasks``). Pruning, few-step training signals and
robustness all read text through here; nothing else does."""
from .corpus import LM_CORPORA, SPLITS, Document, corpora_dir, corpus_zip, documents, lm_digest, lm_documents, split_of
from .tasks import TASKS, Example, TaskSplits, load_task
from .tokens import EOS_ID, MASK_FRACTION, MASK_ID, PAD_ID, VOCAB_SIZE, TextTokenizer, mask_positions, token_ids, tokenizer

__all__ = ["Document", "EOS_ID", "Example", "TASKS", "TaskSplits", "load_task", "LM_CORPORA", "MASK_FRACTION", "MASK_ID", "PAD_ID", "SPLITS", "TextTokenizer", "VOCAB_SIZE",
           "corpora_dir", "corpus_zip", "documents", "lm_digest", "lm_documents", "mask_positions", "split_of", "token_ids", "tokenizer"]
