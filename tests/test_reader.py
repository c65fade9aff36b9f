"""The reader: numpy inference equals the torch model it is trained as, and the shipped weights read."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from index import reader

ROOT = Path(__file__).resolve().parent.parent


def _train_script():
    spec = importlib.util.spec_from_file_location("train_reader", ROOT / "scripts" / "train_reader.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLES = [
    {"question": "When did Russia begin its airstrikes in Syria?",
     "sentences": ["Russia's airstrikes in Syria have been criticised by Western governments.",
                   "Moscow began bombing targets in Syria on September 30, 2015.",
                   "—", "The Kremlin said the campaign would last as long as the Syrian army's offensive."]},
    {"question": "How many people were detained in Moscow?",
     "sentences": ["Police detained 14 people in Moscow on Sunday.", "Detentions in Moscow are common."]},
    {"question": "who heads the FSB", "sentences": ["FSB director Alexander Bortnikov spoke on Tuesday."]},
]


@pytest.mark.parametrize("dilations,gru", [((1, 2), False), ((1,), True), ((), True)])
def test_numpy_reader_scores_as_the_torch_model_it_is_trained_as(dilations, gru):
    torch = pytest.importorskip("torch")
    train = _train_script()
    torch.manual_seed(7)
    encoder = train.Encoder()
    encoded = [encoder.encode(dict(e, label=0)) for e in EXAMPLES]
    model = train.torch_model(np.stack(encoder.vectors), 32, dilations, gru)
    model.eval()
    (q, qf, s, sf), _, _ = train.batch(encoded)
    with torch.no_grad():
        expected = model(q, qf, s, sf).numpy()
    fast = reader.Reader(train.weights_of(model, dilations), encoder.table, encoder.tokenizer)
    got = np.concatenate([fast.score(e["question"], e["sentences"]) for e in EXAMPLES])
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_weights_of_another_format_are_refused_with_what_to_do():
    weights = dict(np.load(ROOT / "index" / reader.WEIGHTS))
    weights["format"] = np.array(reader.FORMAT + 1)
    with pytest.raises(reader.ReaderUnavailable, match="train_reader.py"):
        reader.Reader(weights, *reader.token_table())


def test_nothing_to_read_scores_nothing():
    r = reader.bundled()
    assert r.score("When?", []).shape == (0,)
    assert np.all(r.score("?!", ["A sentence."]) == 0)
    assert r.score("Who spoke?", ["…", "Putin spoke."]).shape == (2,)


# Each: a question, a sentence that answers it and one that repeats its words as much without answering.
READS = [
    ("When did Russia begin airstrikes in Syria?",
     "Russia began airstrikes in Syria on September 30, 2015.",
     "Russia began airstrikes in Syria to support the Syrian army."),
    ("How many people were detained after the protest?",
     "Police detained 24 people after the protest.",
     "Police detained people after the protest, witnesses said."),
    ("Who shot down the Russian jet?",
     "The Russian jet was shot down by a Turkish F-16.",
     "The Russian jet was shot down near the Syrian border."),
    ("Where was the journalist arrested?", "The journalist was arrested in Donetsk.",
     "The journalist was arrested on Tuesday."),
    ("Когда был задержан Дмитрий Пегов?",
     "Дмитрий Пегов был задержан 21 октября.",
     "Дмитрий Пегов был задержан полицией."),
]


@pytest.mark.parametrize("question,answer,restating", READS)
def test_the_shipped_reader_prefers_the_sentence_holding_what_was_asked(question, answer, restating):
    scores = reader.bundled().score(question, [restating, answer])
    assert scores[1] > scores[0]


def test_training_adds_the_answer_sentence_without_its_answer_as_a_wrong_candidate():
    """It restates the question as well as the right sentence does; only the answer tells them apart."""
    train = _train_script()
    assert train.without_answers("Russia began airstrikes in Syria on September 30, 2015, officials said.",
                                 ["September 30, 2015", "September 30"]) == "Russia began airstrikes in Syria on, officials said."
    assert train.without_answers("It was 42 seconds long.", ["seven"]) is None, "nothing cut: not a twin"
    assert train.without_answers("Putin spoke.", ["Putin"]) is None, "too little left to read"
    context = "The video was released on Tuesday. It lasted 42 seconds and showed two men."
    data = [{"paragraphs": [{"context": context, "qas": [
        {"question": "How long was the video?", "answers": [{"text": "42 seconds", "answer_start": context.index("42")}]}]}]}]
    [plain] = train.examples(data, 0, 0, 0)
    [twinned] = train.examples(data, 0, 0, 0, deleted=1.0)
    assert plain["sentences"] == twinned["sentences"][:-1] and plain["label"] == twinned["label"] == 1
    assert twinned["sentences"][-1] == "It lasted and showed two men." and twinned["holds"] == [0, 1, 0]
