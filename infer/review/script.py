"""The parcel page's one script (served as /review.js; inline script is forbidden by the CSP).

The habits of a labelling tool: `c` / `g` / `u` record a decision and move on to the next queued
parcel; for a few seconds `z` undoes it: back to that parcel with "override" ticked, so the
corrected decision is recorded as an audited override and nothing is deleted. `j` / `k` step
through the queue, `b` accepts the model's brand, `h` lays the heatmaps
over the photos, `r` opens each photo's nearest genuine reference beside it, `?` lists the keys.
`o` (or `1`-`9`) opens a photo full size, where `+` / `-` zoom and the arrows pan; a click opens it
too, with the wheel to zoom and a drag to pan.
"""

SCRIPT = r"""
(function () {
  const form = document.getElementById('decide');
  if (!form) return;
  const reviewer = form.elements['reviewer'];
  reviewer.value = localStorage.getItem('reviewer') || '';
  const status = document.getElementById('status');
  const toast = document.getElementById('toast');
  const brand = form.elements['brand'], other = form.elements['brand_other'];
  let brandSource = null;
  function go(url) { if (url) window.location.assign(url); }
  function show(text) { toast.textContent = text; toast.hidden = false; }
  let undo = null;
  const recorded = JSON.parse(sessionStorage.getItem('recorded') || 'null');
  if (recorded) {
    sessionStorage.removeItem('recorded');
    undo = recorded.url; show(recorded.line + ' - z: undo');
    setTimeout(() => { toast.hidden = true; undo = null; }, 8000);
  }
  if (new URLSearchParams(window.location.search).has('redo')) {
    form.elements['override'].checked = true;
    status.textContent = 'Undo: record the corrected decision (an override; the first one stays in the audit log).';
  }
  brand.addEventListener('change', () => {
    other.hidden = brand.value !== 'other';
    brandSource = brand.value ? 'chosen' : null;
    if (!other.hidden) other.focus();
  });
  function chosenBrand() { return brand.value === 'other' ? other.value.trim() : brand.value; }
  function acceptModelBrand() {
    const suggested = form.dataset.modelBrand;
    if (!suggested) return;
    brand.value = suggested; other.hidden = true; brandSource = 'model';
    status.textContent = 'Brand accepted from the model: ' + suggested;
  }
  async function send(decision) {
    if (!reviewer.value.trim()) { status.textContent = 'Enter your name first.'; reviewer.focus(); return; }
    localStorage.setItem('reviewer', reviewer.value.trim());
    const picked = chosenBrand();
    const body = {decision: decision, reviewer: reviewer.value.trim(), brand: picked || null,
                  brand_source: picked ? (brandSource || 'chosen') : null,
                  note: form.elements['note'].value, override: form.elements['override'].checked};
    const r = await fetch('/api/parcels/' + form.dataset.parcel + '/decision', {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
    const data = await r.json();
    if (r.ok) {
      const line = 'Recorded ' + data.decision + ' for parcel ' + form.dataset.parcelId +
                   (data.brand ? ' (brand ' + data.brand + ')' : '');
      status.textContent = line; status.dataset.decided = data.decision;
      if (form.dataset.next) {
        sessionStorage.setItem('recorded', JSON.stringify({line: line, url: '/parcels/' + form.dataset.parcel + '?redo=1'}));
        go(form.dataset.next);
      }
      else { show(line + '. The queue is empty.'); }
    } else if (r.status === 409) {
      status.textContent = 'Already decided; tick "override" to record a new decision.';
    } else { status.textContent = 'Not saved (' + r.status + '): ' + JSON.stringify(data.detail); }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); send(e.submitter.value); });

  const viewer = document.getElementById('viewer'), big = document.getElementById('viewer-img');
  let scale = 1, dx = 0, dy = 0, drag = null;
  function place() { big.style.transform = 'translate(' + dx + 'px,' + dy + 'px) scale(' + scale + ')'; }
  function openPhoto(src) { big.src = src; scale = 1; dx = dy = 0; place(); viewer.hidden = false; }
  document.querySelectorAll('img.evidence').forEach((img) => img.addEventListener('click', () => openPhoto(img.src)));
  viewer.addEventListener('wheel', (e) => { e.preventDefault(); scale = Math.min(12, Math.max(1, scale * (e.deltaY < 0 ? 1.2 : 1 / 1.2))); place(); });
  viewer.addEventListener('mousedown', (e) => { drag = [e.clientX - dx, e.clientY - dy]; e.preventDefault(); });
  window.addEventListener('mousemove', (e) => { if (drag) { dx = e.clientX - drag[0]; dy = e.clientY - drag[1]; place(); } });
  window.addEventListener('mouseup', () => { drag = null; });
  viewer.addEventListener('dblclick', () => { viewer.hidden = true; });
  const help = document.getElementById('help');

  const keys = {c: 'counterfeit', g: 'genuine', u: 'cannot_tell'};
  const pan = {ArrowLeft: [60, 0], ArrowRight: [-60, 0], ArrowUp: [0, 60], ArrowDown: [0, -60]};
  const photos = [...document.querySelectorAll('img.evidence')];
  document.addEventListener('keydown', (e) => {
    const t = e.target.tagName;
    if (t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT' || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'Escape') { viewer.hidden = true; help.hidden = true; return; }
    if (!viewer.hidden) {  // the full-size photo has the keys while it is open
      if (e.key === '+' || e.key === '=') { scale = Math.min(12, scale * 1.5); place(); }
      else if (e.key === '-') { scale = Math.max(1, scale / 1.5); place(); }
      else if (pan[e.key]) { dx += pan[e.key][0]; dy += pan[e.key][1]; place(); }
      e.preventDefault();
      return;
    }
    const n = e.key === 'o' ? 1 : Number.parseInt(e.key, 10);
    if (n >= 1 && n <= photos.length) { e.preventDefault(); openPhoto(photos[n - 1].src); return; }
    if (keys[e.key]) { e.preventDefault(); send(keys[e.key]); }
    else if (e.key === 'j' || e.key === 'ArrowRight') { go(form.dataset.down); }
    else if (e.key === 'k' || e.key === 'ArrowLeft') { go(form.dataset.up); }
    else if (e.key === 'b') { acceptModelBrand(); }
    else if (e.key === 'z' && undo) { go(undo); }
    else if (e.key === 'h') { document.body.classList.toggle('heat'); }
    else if (e.key === 'r') { document.body.classList.toggle('refs'); }
    else if (e.key === '?') { help.hidden = !help.hidden; }
  });
})();
"""
