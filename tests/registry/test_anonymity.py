"""What a review link's holder is shown: identities stripped as words, content left as signed."""

from reproreg.services.review_links import anonymised


def test_names_are_stripped_as_words_and_never_from_what_identifies_content():
    document = {"title": "A model by ab (AB/model), trained at abcorp", "authors": ["Ab Cee"],
                "claims": [{"metric": "ab_accuracy", "dataset": "ab/val", "value": 1.0}],
                "files": [{"path": "ab/weights.bin", "sha256": "sha256:" + "ab" * 32, "size": 1}]}
    scrubbed = anonymised(document, ["ab"], "anonymous")
    assert scrubbed["title"] == "A model by anonymous (anonymous/model), trained at abcorp"
    assert "authors" not in scrubbed
    assert scrubbed["claims"][0]["metric"] == "ab_accuracy"  # what the claim is judged on stays as signed
    assert scrubbed["claims"][0]["dataset"] == "anonymous/val"
    assert scrubbed["files"] == document["files"]  # paths the evaluation opens and the digests the holder checks
