"""A verdict's reasons in words, each pointing at the photos it concerns."""

from __future__ import annotations

REASONS = {
    "counterfeit_probability_in_band": "The counterfeit score is in the band where the model may not "
                                       "decide alone.",
    "brand_uncertain": "The model is not sure of the brand.",
    "not_a_shoe": "Some photos do not look like the shoes the model knows.",
    "unreadable_photos": "Some photos could not be read.",
    "counterfeit_model_untrained": "The model never saw counterfeits of this brand or model: its score "
                                   "decides nothing here.",
}


def reason_lines(verdict: dict, names: dict[int, str]) -> list[tuple[str, list[str]]]:
    """(sentence, names of the photos it concerns) per reason of `verdict` (its `to_dict()`),
    in the verdict's order. `names`: photo position -> the name shown on the page."""
    photos = verdict.get("photos") or []
    checks = {f"label_{c['check']}": c for c in verdict.get("label_checks") or []}
    out = []
    for code in verdict.get("reasons") or []:
        if code == "not_a_shoe":
            concerned = [i for i, p in enumerate(photos) if p.get("out_of_distribution")]
        elif code == "unreadable_photos":
            concerned = [i for i, p in enumerate(photos) if "error" in p]
        elif code in checks:
            concerned = list(checks[code].get("photos") or [])
        else:
            concerned = []
        if code in checks:
            text = f"Label check failed: {checks[code]['detail']}."
        else:
            text = REASONS.get(code, code.replace("_", " ").capitalize() + ".")
        out.append((text, [names.get(i, f"photo {i + 1}") for i in concerned]))
    return out
