"""HTML of the review pages. Plain server-rendered pages with one small script: the liaison's
machine may have no internet, so nothing is loaded from elsewhere."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}
.photos{display:flex;flex-wrap:wrap;gap:1rem}.photo{border:1px solid #ccc;padding:.5rem}
.photo img{height:240px;display:block;margin-bottom:.3rem}.pair{display:flex;gap:.4rem}
.suggest{font-size:1.2rem}.counterfeit{color:#b00}.genuine{color:#070}.review{color:#a60}
form{margin-top:1rem;padding:1rem;background:#f4f4f4;max-width:40rem}
label{display:block;margin:.4rem 0}kbd{border:1px solid #999;border-radius:3px;padding:0 .3rem}
#status{font-weight:bold;margin-top:.5rem}
.shot{position:relative;display:inline-block}.shot svg{position:absolute;left:0;top:0}
.boxes polygon{fill:rgba(255,0,0,.08);stroke:#e00}.read{font-family:monospace;font-size:.8rem;max-width:32rem}
.pass{color:#070}.fail{color:#b00;font-weight:bold}.unknown{color:#777}
"""

SCRIPT = """
(function () {
  const form = document.getElementById('decide');
  if (!form) return;
  const reviewer = form.elements['reviewer'];
  reviewer.value = localStorage.getItem('reviewer') || '';
  const status = document.getElementById('status');
  async function send(decision) {
    if (!reviewer.value.trim()) { status.textContent = 'Enter your name first.'; reviewer.focus(); return; }
    localStorage.setItem('reviewer', reviewer.value.trim());
    const body = {decision: decision, reviewer: reviewer.value.trim(),
                  brand: form.elements['brand'].value, note: form.elements['note'].value,
                  override: form.elements['override'].checked};
    const r = await fetch('/api/parcels/' + form.dataset.parcel + '/decision', {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
    const data = await r.json();
    if (r.ok) { status.textContent = 'Recorded: ' + data.decision; status.dataset.decided = data.decision; }
    else if (r.status === 409) { status.textContent = 'Already decided; tick "override" to record a new decision.'; }
    else { status.textContent = 'Not saved (' + r.status + '): ' + JSON.stringify(data.detail); }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); send(e.submitter.value); });
  const keys = {c: 'counterfeit', g: 'genuine', u: 'cannot_tell'};
  document.addEventListener('keydown', (e) => {
    const t = e.target.tagName;
    if (t === 'INPUT' || t === 'TEXTAREA' || e.ctrlKey || e.metaKey || e.altKey) return;
    if (keys[e.key]) { e.preventDefault(); send(keys[e.key]); }
  });
})();
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


def queue_page(rows: list[dict], sort: str, descending: bool, status: str,
               band: dict | None = None) -> str:
    def head(key: str, title: str) -> str:
        flip = "asc" if sort == key and descending else "desc"
        mark = (" ▼" if descending else " ▲") if sort == key else ""
        query = urlencode({"sort": key, "order": flip, "status": status})
        return f"<th><a href='/?{query}'>{title}</a>{mark}</th>"

    lines = "".join(
        f"<tr><td><a href='/parcels/{r['id']}'>{escape(r['parcel_id'])}</a></td>"
        f"<td class='{escape(r['verdict'])}'>{escape(r['verdict'])}</td>"
        f"<td>{_pct(r['counterfeit_probability'])}</td><td>{escape(r['brand'] or '')}</td>"
        f"<td>{escape(r['created_at'])}</td><td>{escape(r['why'])}</td><td>{r['n_photos']}</td>"
        f"<td>{escape(r['status'])}</td></tr>"
        for r in rows
    )
    tabs = " · ".join(
        f"<a href='/?{urlencode({'status': s, 'sort': sort})}'>{s}</a>"
        for s in ("queued", "decided", "all")
    )
    body = (
        f"<h1>Review queue ({len(rows)} {escape(status)})</h1><p>{tabs} · "
        "<a href='/api/audit'>audit log (JSON)</a></p><table><tr><th>parcel</th>"
        f"<th>model</th>{head('probability', 'counterfeit p')}{head('brand', 'brand')}"
        f"{head('age', 'queued at')}<th>why</th><th>photos</th><th>status</th></tr>{lines}</table>"
        f"{band_line(band)}"
    )
    return _page("Review queue", body)


def parcel_page(p: dict, next_id: int | None) -> str:
    v = p["verdict_json"]
    labels = {label["photo"]: label for label in v.get("labels") or []}
    photos = "".join(_photo(ph, labels.get(ph["position"])) for ph in p["photos"])
    reasons = ", ".join(v.get("reasons") or []) or "none"
    history = "".join(
        f"<li>{escape(d['decided_at'])}: <b>{escape(d['decision'])}</b> by "
        f"{escape(d['reviewer'])}{' (override)' if d['override'] else ''}; brand "
        f"{escape(d['brand'] or '–')}; {escape(d['note'] or '')}</li>"
        for d in p["decisions"]
    )
    nxt = f" · <a href='/parcels/{next_id}'>next queued parcel</a>" if next_id else ""
    decided = p["status"] == "decided"
    body = f"""
<p><a href='/'>← queue</a>{nxt}</p>
<h1>Parcel {escape(p['parcel_id'])}</h1>
<p class='suggest'>Model suggests <b class='{escape(p['verdict'])}'>{escape(p['verdict'])}</b>,
counterfeit probability {_pct(p['counterfeit_probability'])}, brand
<b>{escape(p['brand'] or '?')}</b> ({_pct(v.get('brand_probability'))}).</p>
<p>Reasons: {escape(reasons)} · queued for {escape(p['why'])} at {escape(p['created_at'])} ·
model {escape(str(p['model_name'] or '?'))} version {escape(str(p['model_version'] or '?'))}</p>
<div class='photos'>{photos}</div>
{label_checks(v.get("label_checks") or [], p["photos"])}
<h2>Decision</h2>{f'<ul>{history}</ul>' if history else '<p>None yet.</p>'}
<form id='decide' data-parcel='{p['id']}'>
<label>Reviewer <input name='reviewer' required></label>
<label>Brand <input name='brand' value='{escape(p['brand'] or '')}'></label>
<label>Note <textarea name='note' rows='2' cols='50'></textarea></label>
<label><input type='checkbox' name='override'>
override an earlier decision{' (this parcel is decided)' if decided else ''}</label>
<button value='counterfeit'>Counterfeit <kbd>c</kbd></button>
<button value='genuine'>Genuine <kbd>g</kbd></button>
<button value='cannot_tell'>Cannot tell <kbd>u</kbd></button>
<div id='status'></div></form>
<script src='/review.js'></script>"""
    return _page(f"Parcel {p['parcel_id']}", body)


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
    if not label or not label.get("lines"):
        return "", f"<div class='read'><i>{escape(label['reason'])}</i></div>" if label and label.get("reason") else ""
    w, h = label["size"]
    width = round(height * w / max(1, h))
    stroke = max(1.5, max(w, h) / 300)
    polygons = "".join(
        f"<polygon points='{' '.join(f'{x:.0f},{y:.0f}' for x, y in line['box'])}' "
        f"stroke-width='{stroke:.1f}'><title>{escape(line['text'])} ({line['confidence']:.2f})</title></polygon>"
        for line in label["lines"]
    )
    svg = (f"<svg class='boxes' viewBox='0 0 {w} {h}' width='{width}' height='{height}' "
           f"preserveAspectRatio='none'>{polygons}</svg>")
    text = "<br>".join(escape(line["text"]) for line in label["lines"])
    return svg, f"<div class='read'>read: {text}</div>"


def _photo(ph: dict, label: dict | None = None) -> str:
    s = ph["scores"]
    if not ph["has_photo"]:
        return (f"<div class='photo'><b>{escape(ph['name'])}</b><br>unreadable: "
                f"{escape(str(s.get('error', '?')))}</div>")
    heat = (f"<img src='/heatmaps/{ph['id']}' alt='heatmap of {escape(ph['name'])}' class='heatmap'>"
            if ph["has_heatmap"] else "")
    flat = ("<br><i>heatmap empty: no region raises the counterfeit score</i>"
            if s.get("heatmap_empty") else "")
    svg, read = _boxes(label)
    return (f"<div class='photo'><div class='pair'><span class='shot'><img src='/photos/{ph['id']}' "
            f"alt='{escape(ph['name'])}' class='evidence'>{svg}</span>{heat}</div>{escape(ph['name'])}: "
            f"counterfeit {_pct(s.get('counterfeit_probability'))}, brand "
            f"{escape(str(s.get('brand')))} ({_pct(s.get('brand_probability'))}){flat}{read}</div>")
