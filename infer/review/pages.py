"""HTML of the review pages. Plain server-rendered pages with one small script: the liaison's
machine may have no internet, so nothing is loaded from elsewhere."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from infer.review.script import SCRIPT  # noqa: F401 -- served as /review.js
from infer.review.words import reason_lines

KEYS = [("c / g / u", "record counterfeit / genuine / cannot tell, then open the next queued parcel"),
        ("z", "undo the decision just recorded (for a few seconds): back to it, override ticked"),
        ("j / k, → / ←", "next / previous parcel"), ("b", "accept the model's brand"),
        ("h", "heatmaps over the photos, on / off"),
        ("r", "each photo beside its nearest genuine reference, on / off"),
        ("o / 1-9", "first / n-th photo full size: + / - zoom, arrows pan, Esc closes"),
        ("click a photo", "full size: wheel zooms, drag pans, double-click or Esc closes"),
        ("?", "this list")]

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}
.photos{display:flex;flex-wrap:wrap;gap:1rem}.photo{border:1px solid #ccc;padding:.5rem}
.photo img{height:240px;display:block;margin-bottom:.3rem}.pair{display:flex;gap:.4rem}
.suggest{font-size:1.2rem}.counterfeit{color:#b00}.genuine{color:#070}.review{color:#a60}
form{margin-top:1rem;padding:1rem;background:#f4f4f4;max-width:40rem}
label{display:block;margin:.4rem 0}kbd{border:1px solid #999;border-radius:3px;padding:0 .3rem}
#status{font-weight:bold;margin-top:.5rem}
.top{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}.top>div{flex:1 1 22rem}
.top form{margin-top:0}#toast{position:fixed;top:.5rem;right:.5rem;background:#222;color:#fff;padding:.6rem 1rem;border-radius:4px}
#viewer{position:fixed;inset:0;background:rgba(0,0,0,.88);overflow:hidden;cursor:grab;z-index:9}
#viewer img{width:100vw;height:100vh;object-fit:contain;display:block;transform-origin:center}
#help{position:fixed;top:3rem;left:50%;transform:translateX(-50%);background:#fff;border:1px solid #999;padding:1rem;z-index:10}
figure.ref{display:none;margin:0}body.refs figure.ref{display:block}figure.ref figcaption{font-size:.8rem;max-width:18rem}
.hint{color:#555;font-size:.85rem}.shot img.heatmap{position:absolute;left:0;top:0;height:240px;opacity:.6;display:none;pointer-events:none}
body.heat .shot img.heatmap{display:block}.blind{color:#555;font-style:italic}
form.filters{background:none;padding:0;max-width:none}form.filters label{display:inline;margin-right:.6rem}
@media (max-width:900px){.photo img{height:180px}.shot img.heatmap{height:180px}body{margin:.6rem}}
.shot{position:relative;display:inline-block}.shot svg{position:absolute;left:0;top:0;pointer-events:none}
.boxes polygon{fill:rgba(255,0,0,.08);stroke:#e00}.boxes polygon.bars{fill:rgba(0,90,255,.08);stroke:#05f}.read{font-family:monospace;font-size:.8rem;max-width:32rem}
.pass{color:#070}.fail{color:#b00;font-weight:bold}.unknown{color:#777}
"""




def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def _pct(p) -> str:
    return "–" if p is None else f"{100 * float(p):.1f}%"


def band_line(report: dict | None) -> str:
    """One line per model version: is its band holding on the audit sample so far?"""
    if not report or not report["models"]:
        return ""
    items = "".join(
        f"<li>{escape(str(m['model']['name'] or 'model'))} v{escape(str(m['model']['version'] or '?'))}: "
        f"<b class='{'genuine' if m['status'] == 'holding' else 'counterfeit' if m['status'] == 'breached' else 'review'}'>"
        f"{escape(m['status'])}</b>, {m['errors']} of {m['audited']} audited parcels decided "
        f"against the model ({m['waiting']} waiting)</li>"
        for m in report["models"]
    )
    return (f"<p>Band check on the audit sample, target {_pct(report['target_error'])} error "
            f"(<a href='/api/band-check'>JSON</a>):</p><ul>{items}</ul>")


def is_blind(p: dict) -> bool:
    """An audit parcel not yet decided: the liaison judges it without the model's answer, or the
    audit would measure agreement with the model, not the model's error."""
    return p.get("why") == "audit" and p.get("status") == "queued"


def blind_row(r: dict) -> dict:
    return {**r, "verdict": None, "counterfeit_probability": None, "brand": None} if is_blind(r) else r


def blind(p: dict) -> dict:
    """A parcel as the liaison may see it: for a blind audit, without the model's verdict,
    scores, brand, reasons and heatmaps (the label text and checks stay: they are evidence)."""
    if not is_blind(p):
        return p
    v = p["verdict_json"]
    kept = {k: v[k] for k in ("parcel_id", "labels", "label_checks", "brands", "model") if k in v}
    kept["photos"] = [{k: ph[k] for k in ("path", "error") if k in ph} for ph in v.get("photos") or []]
    photos = [{**ph, "scores": {k: ph["scores"][k] for k in ("error",) if k in ph["scores"]},
               "counterfeit_probability": None, "has_heatmap": False} for ph in p["photos"]]
    return {**p, "verdict": None, "counterfeit_probability": None, "brand": None, "verdict_json": kept,
            "photos": photos, "blind": True}


def error_page(status: int, detail: str) -> str:
    return _page(f"{status}", f"<p><a href='/'>← queue</a></p><h1>{status}</h1><p>{escape(detail)}</p>")


def queue_page(rows: list[dict], sort: str, descending: bool, status: str,
               band: dict | None = None, filters: dict | None = None, facets: dict | None = None) -> str:
    filters = {k: v for k, v in (filters or {}).items() if v}

    def link(**change) -> str:
        return "/?" + urlencode({"status": status, "sort": sort, **filters, **change})

    def head(key: str, title: str) -> str:
        mark = (" ▼" if descending else " ▲") if sort == key else ""
        return f"<th><a href='{link(sort=key, order='asc' if sort == key and descending else 'desc')}'>{title}</a>{mark}</th>"

    decided = status != "queued"
    lines = "".join(_queue_line(blind_row(r), decided) for r in rows)
    tabs = " · ".join(f"<a href='{link(status=s)}'>{s}</a>" for s in ("queued", "decided", "all"))
    extra = "<th>decision</th><th>by</th><th>decided at</th>" if decided else ""
    body = (
        f"<h1>Review queue ({len(rows)} {escape(status)})</h1><p>{tabs} · "
        "<a href='/cases'>cases (one decision per seller)</a> · <a href='/api/audit'>audit log (JSON)</a></p>"
        f"{_filters(status, sort, filters, facets or {})}<table><tr><th>parcel</th>"
        f"<th>model</th>{head('probability', 'counterfeit p')}{head('brand', 'brand')}"
        f"{head('age', 'queued at')}<th>why</th><th>photos</th><th>version</th><th>status</th>{extra}</tr>"
        f"{lines}</table>{band_line(band)}"
    )
    return _page("Review queue", body)


def _queue_line(r: dict, decided: bool) -> str:
    model = (f"<td class='{escape(r['verdict'])}'>{escape(r['verdict'])}</td>" if r["verdict"]
             else "<td class='blind'>hidden (audit)</td>")
    extra = (f"<td>{escape(r['decision'] or '')}</td><td>{escape(r['reviewer'] or '')}</td>"
             f"<td>{escape(r['decided_at'] or '')}</td>") if decided else ""
    return (f"<tr><td><a href='/parcels/{r['id']}'>{escape(r['parcel_id'])}</a></td>{model}"
            f"<td>{_pct(r['counterfeit_probability'])}</td><td>{escape(r['brand'] or '')}</td>"
            f"<td>{escape(r['created_at'])}</td><td>{escape(r['why'])}</td><td>{r['n_photos']}</td>"
            f"<td>{escape(str(r['model_version'] or 'unregistered'))}</td><td>{escape(r['status'])}</td>{extra}</tr>")


def _filters(status: str, sort: str, filters: dict, facets: dict) -> str:
    def choice(name: str, title: str) -> str:
        options = "".join(f"<option{' selected' if filters.get(name) == v else ''}>{escape(v)}</option>"
                          for v in facets.get(name, []))
        return f"<label>{title} <select name='{name}'><option value=''>any</option>{options}</select></label>"

    search = escape(filters.get("search", ""))
    return (f"<form class='filters' method='get' action='/'><input type='hidden' name='status' value='{escape(status)}'>"
            f"<input type='hidden' name='sort' value='{escape(sort)}'>{choice('brand', 'brand')}"
            f"{choice('reason', 'reason')}{choice('model_version', 'version')}"
            f"<label>parcel id <input name='search' value='{search}' size='14'></label>"
            f"<button>filter</button></form>")


def parcel_page(p: dict, near: dict, refs: dict | None = None, case_id: str | None = None) -> str:
    p = blind(p)
    v = p["verdict_json"]
    labels = {label["photo"]: label for label in v.get("labels") or []}
    names = {ph["position"]: ph["name"] for ph in p["photos"]}
    photos = "".join(_photo(ph, labels.get(ph["position"]), (refs or {}).get(ph["id"])) for ph in p["photos"])
    history = "".join(
        f"<li>{escape(d['decided_at'])}: <b>{escape(d['decision'])}</b> by "
        f"{escape(d['reviewer'])}{' (override)' if d['override'] else ''}; brand "
        f"{escape(d['brand'] or '–')}{' (accepted from the model)' if d.get('brand_source') == 'model' else ''}; "
        f"{escape(d['note'] or '')}</li>"
        for d in p["decisions"]
    )
    nxt = f" · <a href='/parcels/{near['next']}'>next queued parcel</a>" if near.get("next") else ""
    help_rows = "".join(f"<tr><td><kbd>{escape(k)}</kbd></td><td>{escape(w)}</td></tr>" for k, w in KEYS)
    case = f" · part of case <a href='/cases/{escape(case_id)}'>{escape(case_id)}</a>" if case_id else ""
    body = f"""
<div id='toast' hidden></div><div id='viewer' hidden><img id='viewer-img' alt='full size'></div>
<div id='help' hidden><b>Keys</b><table>{help_rows}</table></div>
<p><a href='/'>← queue</a>{nxt} · <a href='/p/{escape(p['parcel_id'])}'>link to this parcel</a> · <kbd>?</kbd> keys{case}</p>
<div class='top'><div><h1>Parcel {escape(p['parcel_id'])}</h1>{_summary(p, names)}
<p>Queued for {escape(p['why'])} at {escape(p['created_at'])} · model {escape(str(p['model_name'] or '?'))}
{_version(p)}</p>
<h2>Decision</h2>{f'<ul>{history}</ul>' if history else '<p>None yet.</p>'}</div>
{_form(p, near)}</div>
<div class='photos'>{photos}</div>
{label_checks(v.get("label_checks") or [], p["photos"])}
<script src='/review.js'></script>"""
    return _page(f"Parcel {p['parcel_id']}", body)


def _summary(p: dict, names: dict[int, str]) -> str:
    if p.get("blind"):
        return ("<p class='suggest blind'>Audit parcel: the model's answer is hidden until you "
                "record yours.</p>")
    v = p["verdict_json"]
    reasons = "".join(f"<li>{escape(text)}{' (' + escape(', '.join(on)) + ')' if on else ''}</li>"
                      for text, on in reason_lines(v, names)) or "<li>none</li>"
    return (f"<p class='suggest'>Model suggests <b class='{escape(p['verdict'])}'>{escape(p['verdict'])}</b>, "
            f"counterfeit probability {_pct(p['counterfeit_probability'])}, brand <b>{escape(p['brand'] or '?')}</b> "
            f"({_pct(v.get('brand_probability'))}).</p><p>Why it is here:</p><ul class='reasons'>{reasons}</ul>")


def _form(p: dict, near: dict) -> str:
    brands = p["verdict_json"].get("brands") or []
    options = "".join(f"<option value='{escape(b)}'>{escape(b)}</option>" for b in brands)
    model_brand = "" if p.get("blind") else escape(p.get("brand") or "")
    accept = (f" <small>(<kbd>b</kbd> accepts the model's: {model_brand})</small>" if model_brand else "")
    # Where the keys lead: the next queued parcel after a decision, and j / k through the queue.
    data = " ".join(f"data-{attr}='/parcels/{int(near[key])}'"
                    for attr, key in (("next", "next"), ("down", "j"), ("up", "k")) if near.get(key))
    decided = p["status"] == "decided"
    return f"""<form id='decide' data-parcel='{p['id']}' data-parcel-id='{escape(p['parcel_id'])}'
 data-model-brand='{model_brand}' {data}>
<label>Reviewer <input name='reviewer' required></label>
<label>Brand{accept} <select name='brand'><option value=''>not judged</option>{options}
<option value='other'>other…</option></select> <input name='brand_other' hidden placeholder='brand'></label>
<label>Note <textarea name='note' rows='2' cols='40'></textarea></label>
<label><input type='checkbox' name='override'>
override an earlier decision{' (this parcel is decided)' if decided else ''}</label>
<button value='counterfeit'>Counterfeit <kbd>c</kbd></button>
<button value='genuine'>Genuine <kbd>g</kbd></button>
<button value='cannot_tell'>Cannot tell <kbd>u</kbd></button>
<div id='status'></div></form>"""


def label_checks(checks: list[dict], photos: list[dict]) -> str:
    """The label checks with their outcome, and the photos each one rests on."""
    if not checks:
        return ""
    names = {ph["position"]: ph["name"] for ph in photos}
    rows = "".join(
        f"<tr><td>{escape(c['check'].replace('_', ' '))}</td><td class='{escape(c['outcome'])}'>"
        f"{escape(c['outcome'])}</td><td>{escape(c['detail'])}</td>"
        f"<td>{escape(', '.join(str(names.get(i, i)) for i in c.get('photos') or []))}</td></tr>"
        for c in checks
    )
    return (f"<h2>Label checks</h2><table class='checks'><tr><th>check</th><th>outcome</th>"
            f"<th>what the labels say</th><th>photos</th></tr>{rows}</table>")


def _boxes(label: dict | None, height: int = 240) -> tuple[str, str]:
    """(an SVG of the read lines' boxes over a photo shown `height` px high, the lines as text)."""
    codes = label.get("barcodes") or [] if label else []
    if not label or not (label.get("lines") or codes):
        return "", f"<div class='read'><i>{escape(label['reason'])}</i></div>" if label and label.get("reason") else ""
    w, h = label["size"]
    width = round(height * w / max(1, h))
    stroke = max(1.5, max(w, h) / 300)

    def polygon(box, title: str, kind: str = "") -> str:
        return (f"<polygon{kind} points='{' '.join(f'{x:.0f},{y:.0f}' for x, y in box)}' "
                f"stroke-width='{stroke:.1f}'><title>{escape(title)}</title></polygon>")

    polygons = "".join(polygon(line["box"], f"{line['text']} ({line['confidence']:.2f})")
                       for line in label["lines"])
    polygons += "".join(polygon(code["box"], f"barcode {code['gtin'].lstrip('0')}", " class='bars'")
                        for code in codes)
    svg = (f"<svg class='boxes' viewBox='0 0 {w} {h}' width='{width}' height='{height}' "
           f"preserveAspectRatio='none'>{polygons}</svg>")
    text = "<br>".join([escape(line["text"]) for line in label["lines"]]
                       + [f"bars: {escape(code['gtin'].lstrip('0'))}" for code in codes])
    return svg, f"<div class='read'>read: {text}</div>"


def _reference(ref: dict | None) -> tuple[str, str]:
    """The reference's picture, shown beside the photo with `r`, and a hint under the photo."""
    if not ref:
        return "", ""
    what = " · ".join(escape(str(ref[k])) for k in ("brand", "model", "view") if ref.get(k) != "unknown")
    figure = (f"<figure class='ref'><img src='/references/{int(ref['id'])}' class='reference' "
              f"alt='genuine reference'><figcaption>nearest genuine reference ({what}): "
              f"{escape(ref['name'])} of listing {escape(ref['listing'])}, similarity "
              f"{ref['similarity']:.2f}</figcaption></figure>")
    return figure, f"<br><span class='hint'><kbd>r</kbd> nearest genuine reference ({what}) beside it</span>"


def _photo(ph: dict, label: dict | None = None, ref: dict | None = None) -> str:
    s = ph["scores"]
    if not ph["has_photo"]:
        return (f"<div class='photo'><b>{escape(ph['name'])}</b><br>unreadable: "
                f"{escape(str(s.get('error', '?')))}</div>")
    heat = (f"<img src='/heatmaps/{ph['id']}' alt='heatmap of {escape(ph['name'])}' class='heatmap'>"
            if ph["has_heatmap"] else "")
    flat = ("<br><i>heatmap empty: no region raises the counterfeit score</i>"
            if s.get("heatmap_empty") else "")
    svg, read = _boxes(label)
    figure, hint = _reference(ref)
    scores = (f": counterfeit {_pct(s.get('counterfeit_probability'))}, brand "
              f"{escape(str(s.get('brand')))} ({_pct(s.get('brand_probability'))})"
              f"{' <b>not a shoe?</b>' if s.get('out_of_distribution') else ''}"
              if "counterfeit_probability" in s else "")
    return (f"<div class='photo'><div class='pair'><span class='shot'><img src='/photos/{ph['id']}' "
            f"alt='{escape(ph['name'])}' class='evidence' title='click: full size'>{heat}{svg}</span>"
            f"{figure}</div>{escape(ph['name'])}{_view(ph.get('view'))}{scores}{flat}{read}{hint}</div>")


def _version(p: dict) -> str:
    if p.get("model_version"):
        return f"version {escape(str(p['model_version']))}"
    # A package loaded from a folder, not from the registry: say so rather than "version ?".
    run = p.get("model_run_id")
    return f"(not registered; run {escape(run[:8])})" if run else "(not registered: loaded from a folder)"


def _view(view: str | None) -> str:
    return f" <span class='view'>({escape(view)} view)</span>" if view else ""
