"""HTML of the case pages: the list of cases, and one case with what links its parcels."""

from __future__ import annotations

from html import escape

from infer.review.case_views import COMPARED, SHOWN_VALUES
from infer.review.pages import _page, _pct, is_blind

# The parcel page's decision keys, for the whole case: one key decides every member, so the
# page says what was recorded and for how many parcels.
KEYS = [("c / g / u", "record counterfeit / genuine / cannot tell for every member still in the case"),
        ("?", "this list"), ("Esc", "close it")]

# Photos shown per member in the grid, and pairs in the evidence table (the rest are counted).
GRID_PHOTOS = 4
SHOWN_PAIRS = 25


def cases_page(rows: list[dict], status: str) -> str:
    tabs = " · ".join(f"<a href='/cases?status={s}'>{s}</a>" for s in ("open", "decided", "all"))
    lines = "".join(
        f"<tr><td><a href='/cases/{escape(r['case_id'])}'>{escape(r['case_id'])}</a></td>"
        f"<td>{r['size']}</td><td>{_pct(r['probability'])}</td><td>{r['urgency']:.1f}</td>"
        f"<td>{escape((r['linked_by'] or '').replace(';', ', '))}</td><td>{escape(r['status'])}</td>"
        f"<td>{escape(r['decision'] or '')}</td><td>{escape(r['reviewer'] or '')}</td>"
        f"<td>{r['split_out'] or ''}</td></tr>"
        for r in rows)
    body = (f"<p><a href='/'>← queue</a></p><h1>Cases ({len(rows)} {escape(status)})</h1>"
            f"<p>{tabs} · <a href='/api/cases?status={escape(status)}'>JSON</a></p>"
            "<p>Parcels linked into one seller's case, most urgent first: members × pooled "
            "counterfeit probability.</p>"
            "<table><tr><th>case</th><th>members</th><th>pooled counterfeit p</th>"
            "<th>members × p</th><th>linked by</th><th>status</th><th>decision</th><th>by</th>"
            f"<th>split out</th></tr>{lines}</table>")
    return _page("Cases", body)


def case_page(case: dict) -> str:
    open_ = case["status"] == "open"
    help_rows = "".join(f"<tr><td><kbd>{escape(k)}</kbd></td><td>{escape(w)}</td></tr>" for k, w in KEYS)
    body = f"""
<div id='toast' hidden></div><div id='help' hidden><b>Keys</b><table>{help_rows}</table></div>
<p><a href='/'>← queue</a> · <a href='/cases'>← cases</a> · <a href='/api/cases/{escape(case['case_id'])}'>JSON</a>
· <kbd>?</kbd> keys</p>
<div class='top'><div><h1>Case {escape(case['case_id'])}</h1>
<p class='suggest'>{case['size']} parcels, pooled counterfeit probability <b>{_pct(case['probability'])}</b>
(the mean of the members' logits) · <b>{escape(case['status'])}</b></p>
<p>Linked at match probability ≥ {case['threshold']:g} ({escape(case['backend'])}) on {escape(case['created_at'])}.
Evidence pack: <code>python -m infer.cases export {escape(case['case_id'])} --db … --out …</code></p>
<h2>Decision</h2>{_history(case['decisions'])}</div>{_form(case)}</div>
<h2>What links them</h2>{_links(case)}
<h2>Members</h2>{_members(case, open_)}
<div class='photos'>{''.join(_grid(m) for m in case['members'])}</div>
{_split_out(case['split_out'])}
<h2>Scored pairs</h2>{_pairs(case)}
<h2>All record fields</h2>{_attributes(case['shared_attributes'])}
<script src='/cases.js'></script>"""
    return _page(f"Case {case['case_id']}", body)


def _history(decisions: list[dict]) -> str:
    if not decisions:
        return "<p>None yet.</p>"
    items = "".join(
        f"<li>{escape(d['decided_at'])}: <b>{escape(d['decision'])}</b> by {escape(d['reviewer'])}"
        f"{' (override)' if d['override'] else ''}, for {len(d['members'])} parcels; "
        f"brand {escape(d['brand'] or '–')}; {escape(d['note'] or '')}</li>" for d in decisions)
    return f"<ul>{items}</ul>"


def _form(case: dict) -> str:
    decided = case["status"] == "decided"
    return f"""<form id='case-decide' data-case='{escape(case['case_id'])}'>
<label>Reviewer <input name='reviewer' required></label>
<label>Brand (optional) <input name='brand' maxlength='100'></label>
<label>Note <textarea name='note' rows='2' cols='40'></textarea></label>
<label><input type='checkbox' name='override'>
override an earlier decision{' (this case is decided)' if decided else ''}</label>
<p>Decides every member below; members decided on their own page keep that decision unless
override is ticked.</p>
<button value='counterfeit'>Counterfeit <kbd>c</kbd></button>
<button value='genuine'>Genuine <kbd>g</kbd></button>
<button value='cannot_tell'>Unsure <kbd>u</kbd></button><div id='status'></div></form>"""


def _values(entry: dict | None) -> str:
    if not entry:
        return ""
    if "common" not in entry:
        return f"{escape(str(entry['first']))} to {escape(str(entry['last']))}"
    shown = ", ".join(f"{escape(str(v))} ×{n}" for v, n in entry["common"])
    more = entry["distinct"] - len(entry["common"])
    return shown + (f", and {more} more" if more > 0 else "")


def _links(case: dict) -> str:
    rows = "".join(
        f"<tr><td>{escape(c['what'])}</td><td class='{'genuine' if c['mean_weight'] > 0 else 'counterfeit'}'>"
        f"{c['mean_weight']:+.2f}</td><td>{c['pairs_for']} of {c['pairs']}</td>"
        f"<td>{_compared_values(c['values'])}</td></tr>" for c in case["linked_by_comparison"])
    if not rows:
        return "<p>No linking pairs stored for this case.</p>"
    return ("<p>Per comparison, over the pairs that link the case: the mean Splink match weight "
            "(log2 Bayes factor: positive argued for one seller, negative against), how many "
            "pairs it argued for, and the values it looked at.</p><table><tr><th>comparison</th>"
            f"<th>mean match weight</th><th>pairs for</th><th>members' values</th></tr>{rows}</table>")


def _compared_values(values: dict) -> str:
    if len(values) == 1:
        return _values(next(iter(values.values())))
    return "<br>".join(f"{escape(k.replace('_', ' '))}: {_values(v)}" for k, v in values.items())


def _members(case: dict, open_: bool) -> str:
    rows = []
    for m in case["members"]:
        blind = is_blind(m)
        verdict = "<i class='blind'>hidden (audit)</i>" if blind else escape(m["verdict"])
        d = m["decision"] or {}
        how = " (with this case)" if d.get("case_id") == case["case_id"] else ""
        labels = ", ".join(f"{k.replace('_', ' ')} {escape(v)}" for k, v in m["label_fields"].items() if v)
        problems = "; ".join(f"{escape(p['column'])}: {escape(p['problem'])}" for p in m["record_problems"])
        split = (f"<button class='split' data-parcel-id='{escape(m['parcel_id'])}'>split out</button>"
                 if open_ and len(case["members"]) > 1 else "")
        rows.append(
            f"<tr><td><a href='/parcels/{m['id']}'>{escape(m['parcel_id'])}</a></td><td>{verdict}</td>"
            f"<td>{'' if blind else _pct(m['counterfeit_probability'])}</td>"
            f"<td>{escape(d.get('decision') or '')}{how}</td><td>{escape(d.get('reviewer') or '')}</td>"
            f"<td>{escape(m['record'].get('sender_name') or '')}</td><td>{labels}</td>"
            f"<td class='fail'>{problems}</td><td>{split}</td></tr>")
    return ("<table><tr><th>parcel</th><th>model</th><th>counterfeit p</th><th>decision</th>"
            "<th>by</th><th>sender name</th><th>label</th><th>record problems</th><th></th></tr>"
            f"{''.join(rows)}</table>")


def _grid(m: dict) -> str:
    shown = [p for p in m["photos"] if p["has_photo"]][:GRID_PHOTOS]
    images = "".join(f"<img src='/photos/{p['id']}' alt='{escape(p['name'])}' title='{escape(p['name'])}' "
                     "class='evidence'>" for p in shown)
    more = len(m["photos"]) - len(shown)
    return (f"<div class='photo'><a href='/parcels/{m['id']}'>{escape(m['parcel_id'])}</a>"
            f"{f' (+{more} more)' if more > 0 else ''}<div class='pair'>{images}</div></div>")


def _split_out(members: list[dict]) -> str:
    if not members:
        return ""
    items = "".join(
        f"<li><a href='/parcels/{m['id']}'>{escape(m['parcel_id'])}</a>, split out by "
        f"{escape(m['split']['by'])} at {escape(m['split']['at'])}: {escape(m['split']['note'] or '')}</li>"
        for m in members)
    return f"<h2>Split out (not decided with the case)</h2><ul>{items}</ul>"


def _pairs(case: dict) -> str:
    pairs = case["pairs"][:SHOWN_PAIRS]
    if not pairs:
        return "<p>None stored.</p>"
    names = sorted({n for p in pairs for n in p["weights"]})
    head = "".join(f"<th>{escape(COMPARED.get(n, (n,))[0])}</th>" for n in names)
    rows = "".join(
        f"<tr><td>{escape(p['parcel_id_l'])}</td><td>{escape(p['parcel_id_r'])}</td>"
        f"<td>{_pct(p['match_probability'])}</td><td>{p['match_weight']:+.1f}</td>"
        + "".join(f"<td>{'' if p['weights'].get(n) is None else format(p['weights'][n], '+.1f')}</td>"
                  for n in names) + "</tr>"
        for p in pairs)
    more = case["pair_count"] - len(pairs)
    return (f"<p>The strongest {len(pairs)} of {case['pair_count']} scored pairs inside the case, "
            "with each comparison's match weight.</p><table><tr><th>parcel</th><th>parcel</th>"
            f"<th>match p</th><th>match weight</th>{head}</tr>{rows}</table>"
            + (f"<p>{more} more in the API and the evidence pack.</p>" if more > 0 else ""))


def _attributes(attributes: dict) -> str:
    rows = "".join(f"<tr><td>{escape(k.replace('_', ' '))}</td><td>{v['members_with_value']}</td>"
                   f"<td>{v['distinct']}</td><td>{_values(v)}</td></tr>" for k, v in attributes.items())
    return ("<table><tr><th>field</th><th>members with a value</th><th>distinct</th>"
            f"<th>commonest (up to {SHOWN_VALUES})</th></tr>{rows}</table>")


SCRIPT = r"""
(function () {
  const form = document.getElementById('case-decide');
  if (!form) return;
  const reviewer = form.elements['reviewer'], status = document.getElementById('status');
  const toast = document.getElementById('toast'), help = document.getElementById('help');
  // The same name as the parcel page keeps: one liaison, one name, typed once.
  reviewer.value = localStorage.getItem('reviewer') || '';
  const base = '/api/cases/' + encodeURIComponent(form.dataset.case);
  // The page reloads after a decision; what was recorded is said on the page that follows.
  const recorded = sessionStorage.getItem('case-recorded');
  if (recorded) {
    sessionStorage.removeItem('case-recorded');
    toast.textContent = recorded; toast.hidden = false;
    setTimeout(() => { toast.hidden = true; }, 8000);
  }
  function who() {
    const name = reviewer.value.trim();
    if (!name) { status.textContent = 'Enter your name first.'; reviewer.focus(); return null; }
    localStorage.setItem('reviewer', name);
    return name;
  }
  async function post(url, body) {
    const r = await fetch(url, {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
    return [r, await r.json()];
  }
  async function send(decision) {
    const name = who(); if (!name) return;
    const brand = form.elements['brand'].value.trim();
    const [r, data] = await post(base + '/decision', {decision: decision, reviewer: name,
      brand: brand || null, note: form.elements['note'].value, override: form.elements['override'].checked});
    if (r.ok) {
      const kept = data.kept.length ? '; ' + data.kept.length + ' decided on their own page kept theirs' : '';
      sessionStorage.setItem('case-recorded', 'Recorded ' + data.decision + ' for ' + data.members.length +
                             ' parcels of case ' + form.dataset.case + kept);
      window.location.reload();
    }
    else if (r.status === 409) { status.textContent = 'Already decided; tick "override" to record a new decision.'; }
    else { status.textContent = 'Not saved (' + r.status + '): ' + JSON.stringify(data.detail); }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); send(e.submitter.value); });
  document.querySelectorAll('button.split').forEach((button) => button.addEventListener('click', async () => {
    const name = who(); if (!name) return;
    if (!window.confirm('Split parcel ' + button.dataset.parcelId + ' out of this case?')) return;
    const [r, data] = await post(base + '/split', {parcel_id: button.dataset.parcelId, reviewer: name});
    if (r.ok) { window.location.reload(); }
    else { status.textContent = 'Not split (' + r.status + '): ' + JSON.stringify(data.detail); }
  }));
  const keys = {c: 'counterfeit', g: 'genuine', u: 'cannot_tell'};
  document.addEventListener('keydown', (e) => {
    const t = e.target.tagName;
    if (t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT' || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'Escape') { help.hidden = true; }
    else if (keys[e.key]) { e.preventDefault(); send(keys[e.key]); }
    else if (e.key === '?') { help.hidden = !help.hidden; }
  });
})();
"""
