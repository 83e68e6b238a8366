// The admin console: one page, sections shown by the URL's #fragment, data
// from the JSON admin API (docs/admin-api.yaml). Live views poll every 3 s.
'use strict';

let csrf = '';
let timer = null;
let notice = '';  // shown by the next view, after an action that moves to it
const $ = (id) => document.getElementById(id);

function status(text) { $('status').textContent = text; }

async function api(method, path, body) {
  const options = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') options.headers['X-CSRF-Token'] = csrf;
  if (body instanceof Blob) {  // a file as it is (a greeting)
    options.headers['Content-Type'] = body.type || 'application/octet-stream';
    options.body = body;
  } else if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && path !== '/api/session') { show('login'); throw new Error('log in again'); }
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function button(parent, label, action, danger) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (danger) b.className = 'danger';
  b.addEventListener('click', () => action().catch((e) => status(e.message)));
  parent.appendChild(b);
  return b;
}

function when(ms) { return new Date(ms).toLocaleString(); }

function agingRun(run) { return `${when(run.at_ms)}, ${run.target}: ${run.outcome}`; }

function days(value) { return value === 0 ? 'never' : `${value} day${value === 1 ? '' : 's'}`; }

function showAging(m) {
  $('mb-age-days').value = m.aging.age_days ?? '';
  $('mb-trash-days').value = m.aging.trash_days ?? '';
  $('mb-age-effective').textContent = `now: ${days(m.aging.effective.age_days)}`;
  $('mb-trash-effective').textContent = `now: ${days(m.aging.effective.trash_days)}`;
  $('mb-last-aging').textContent = m.last_aging ? agingRun(m.last_aging) : 'none recorded';
}

async function loadAgingRun(number) {
  const m = await api('GET', '/api/mailboxes/' + encodeURIComponent(number));
  $('mb-last-aging').textContent = m.last_aging ? agingRun(m.last_aging) : 'none recorded';
}

function show(view) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== view + '-view';
  $('nav').hidden = view === 'login' || view === 'enrol';
  if (timer) { clearInterval(timer); timer = null; }
}

function every(seconds, load) {
  load().catch((e) => status(e.message));
  timer = setInterval(() => load().catch((e) => status(e.message)), seconds * 1000);
}

function bytes(n) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

function showStorage(s) {
  if (!s) { $('dash-storage').textContent = '?'; $('dash-storage-detail').textContent = 'The store\'s usage cannot be read now.'; return; }
  if (s.size_bytes) {
    $('dash-storage').textContent = `${Math.round((100 * s.used_bytes) / s.size_bytes)}%`;
    $('dash-storage-detail').textContent = `File system of ${s.name}: ${bytes(s.used_bytes)} used of ${bytes(s.size_bytes)}, ` +
      `${bytes(s.free_bytes)} free for umstore.`;
  } else {
    $('dash-storage').textContent = bytes(s.used_bytes);
    $('dash-storage-detail').textContent = `PostgreSQL database ${s.name}: ${bytes(s.used_bytes)}.`;
  }
}

// Messages per gateway (source) from the hourly counts: this clock hour's and the last 24 hours'.
function showSources(hours) {
  const now = Date.now() / 1000;
  const sources = new Map();
  for (const h of hours) {
    if (h.hour < now - 24 * 3600) continue;
    const s = sources.get(h.source) || { hour: 0, delivered: 0, failed: 0 };
    if (h.hour + 3600 > now) s.hour += h.delivered;
    s.delivered += h.delivered;
    s.failed += h.failed;
    sources.set(h.source, s);
  }
  const rows = $('dash-sources');
  rows.replaceChildren();
  for (const [source, s] of [...sources].sort()) {
    const tr = document.createElement('tr');
    tr.dataset.source = source;
    cell(tr, source); cell(tr, s.hour); cell(tr, s.delivered); cell(tr, s.failed);
    rows.appendChild(tr);
  }
}

async function loadDashboard() {
  const d = await api('GET', '/api/dashboard');
  $('dash-mailboxes').textContent = d.mailboxes;
  $('dash-ingest-depth').textContent = d.ingest.depth;
  $('dash-delivered').textContent = d.ingest.delivered;
  $('dash-failed').textContent = d.failed_jobs;
  $('dash-smtp-depth').textContent = d.smtp_queue_depth;
  $('dash-failed-logins').textContent = d.failed_admin_logins;
  $('dash-aging').textContent = d.last_aging ? agingRun(d.last_aging) : 'No aging run recorded.';
  showStorage(d.storage);
  showSources(d.messages_per_hour);
  const rows = $('dash-hours');
  rows.replaceChildren();
  for (const h of d.messages_per_hour) {
    const tr = document.createElement('tr');
    cell(tr, new Date(h.hour * 1000).toLocaleString());
    cell(tr, h.kind); cell(tr, h.source); cell(tr, h.delivered); cell(tr, h.failed);
    rows.appendChild(tr);
  }
}

async function loadMailboxes() {
  const q = $('search-q').value;
  const list = await api('GET', '/api/mailboxes' + (q ? '?q=' + encodeURIComponent(q) : ''));
  const rows = $('mailbox-rows');
  rows.replaceChildren();
  for (const m of list) {
    const tr = document.createElement('tr');
    const link = document.createElement('a');
    link.href = '#/mailbox/' + encodeURIComponent(m.number);
    link.textContent = m.number;
    cell(tr, '').appendChild(link);
    cell(tr, m.name); cell(tr, m.email); cell(tr, m.quota_bytes);
    rows.appendChild(tr);
  }
}

function play(number, m) {
  $('fax').hidden = true;
  $('player').hidden = false;
  $('player-title').textContent = `${m.caller} ${when(m.date_ms)}`;
  $('player-duration').textContent = '-';
  const audio = $('player-audio');
  audio.onloadedmetadata = () => { $('player-duration').textContent = audio.duration.toFixed(1); };
  audio.src = `/api/mailboxes/${encodeURIComponent(number)}/messages/${encodeURIComponent(m.folder)}/${m.uid}/audio`;
  audio.focus();
  return audio.play().catch(() => {});
}

function viewFax(number, m) {
  $('player').hidden = true;
  $('fax').hidden = false;
  $('fax-title').textContent = `${m.caller} ${when(m.date_ms)}, ${m.pages} page(s)`;
  const url = `/api/mailboxes/${encodeURIComponent(number)}/messages/${encodeURIComponent(m.folder)}/${m.uid}/fax`;
  $('fax-link').href = url;
  $('fax-object').data = url;
  return Promise.resolve();
}

async function loadMessages(number) {
  const list = await api('GET', `/api/mailboxes/${encodeURIComponent(number)}/messages`);
  const rows = $('message-rows');
  rows.replaceChildren();
  for (const m of list) {
    const tr = document.createElement('tr');
    tr.dataset.kind = m.kind;
    cell(tr, when(m.date_ms));
    cell(tr, m.kind);
    cell(tr, m.caller_name ? `${m.caller_name} (${m.caller})` : m.caller);
    cell(tr, m.kind === 'voice' ? `${m.duration_seconds} s` : m.kind === 'fax' ? `${m.pages} page(s)` : '');
    cell(tr, m.folder);
    const open = cell(tr, '');
    if (m.kind === 'voice') button(open, 'Play', () => play(number, m)).setAttribute('aria-label', `Play voicemail from ${m.caller}`);
    if (m.kind === 'fax') button(open, 'View fax', () => viewFax(number, m)).setAttribute('aria-label', `View fax from ${m.caller}`);
    rows.appendChild(tr);
  }
}

function showGreeting(number, present) {
  const audio = $('greeting-audio');
  $('greeting-state').textContent = present ? 'Callers hear this greeting:' : 'No greeting of its own: callers hear the built-in chime.';
  $('greeting-duration').textContent = '-';
  $('greeting-delete').disabled = !present;
  audio.hidden = !present;
  audio.onloadedmetadata = () => { $('greeting-duration').textContent = audio.duration.toFixed(1); };
  if (present) audio.src = `/api/mailboxes/${encodeURIComponent(number)}/greeting?at=${Date.now()}`;
  else audio.removeAttribute('src');
}

function greetingControls(number, present) {
  const path = `/api/mailboxes/${encodeURIComponent(number)}/greeting`;
  showGreeting(number, present);
  $('greeting-form').onsubmit = (e) => {
    e.preventDefault();
    const file = $('greeting-file').files[0];
    if (!file) return;
    api('PUT', path, file).then((g) => {
      showGreeting(number, true);
      $('greeting-file').value = '';
      status(`Greeting saved (${g.seconds.toFixed(1)} s).`);
    }).catch((err) => status(`Greeting refused: ${err.message}`));
  };
  $('greeting-delete').onclick = () => api('DELETE', path)
    .then(() => { showGreeting(number, false); status('Greeting deleted.'); }).catch((err) => status(err.message));
}

async function openMailbox(number) {
  const m = await api('GET', '/api/mailboxes/' + encodeURIComponent(number));
  $('mb-number').textContent = m.number;
  $('mb-name').value = m.name;
  $('mb-email').value = m.email;
  $('mb-quota').value = m.quota_bytes;
  $('mb-quota-messages').value = m.quota_messages;
  $('mb-quota-minutes').value = m.quota_minutes;
  $('mb-usage').textContent = `In use: ${m.usage.bytes} bytes, ${m.usage.messages} messages, ` +
    `${(m.usage.seconds / 60).toFixed(1)} minutes of voice`;
  $('mb-playable').value = m.profile ? m.profile.playable : 'wav';
  showAging(m);
  greetingControls(number, m.greeting);
  $('aging-form').onsubmit = (e) => {
    e.preventDefault();
    const field = (id) => ($(id).value === '' ? null : Number($(id).value));
    api('PUT', `/api/mailboxes/${encodeURIComponent(number)}/aging`, {
      age_days: field('mb-age-days'), trash_days: field('mb-trash-days'),
    }).then((aging) => { showAging({ aging, last_aging: null }); return loadAgingRun(number); })
      .then(() => status('Aging saved.')).catch((err) => status(err.message));
  };
  $('edit-form').onsubmit = (e) => {
    e.preventDefault();
    api('PATCH', '/api/mailboxes/' + encodeURIComponent(number), {
      name: $('mb-name').value, email: $('mb-email').value, quota_bytes: Number($('mb-quota').value),
      quota_messages: Number($('mb-quota-messages').value), quota_minutes: Number($('mb-quota-minutes').value),
      profile: { playable: $('mb-playable').value },
    }).then(() => status('Saved.')).catch((err) => status(err.message));
  };
  $('mb-reset').onclick = () => api('POST', `/api/mailboxes/${encodeURIComponent(number)}/password`)
    .then((r) => status(`New password for ${r.number}: ${r.password}`)).catch((err) => status(err.message));
  const exportLink = () => {
    $('export-link').href = `/api/mailboxes/${encodeURIComponent(number)}/export?format=${$('export-format').value}`;
  };
  $('export-format').onchange = exportLink;
  exportLink();
  $('mb-erase').onclick = () => {
    if (!confirm(`Erase mailbox ${number}: every message, folder and greeting, for real? This cannot be undone.`)) return;
    api('POST', `/api/mailboxes/${encodeURIComponent(number)}/erase`)
      .then((r) => { notice = `${number} erased: ${r.messages.length} message(s).`; location.hash = '#/mailboxes'; })
      .catch((err) => status(err.message));
  };
  $('mb-remove').onclick = () => {
    if (!confirm(`Remove mailbox ${number}? Its messages stay on disk.`)) return;
    api('DELETE', '/api/mailboxes/' + encodeURIComponent(number))
      .then(() => { notice = `${number} removed.`; location.hash = '#/mailboxes'; }).catch((err) => status(err.message));
  };
  every(3, () => Promise.all([loadMessages(number), loadAgingRun(number)]));
}

async function loadQueues() {
  const q = await api('GET', '/api/queues');
  $('queue-ingest').textContent = `${q.ingest.depth} waiting, ${q.ingest.delivered} delivered, ${q.ingest.failed} failed since the start`;
  const jobs = $('ingest-rows');
  jobs.replaceChildren();
  for (const j of q.ingest_jobs) {
    const tr = document.createElement('tr');
    Object.assign(tr.dataset, { id: j.id, state: j.state, finished: j.finished_ms });
    cell(tr, when(j.accepted_ms)); cell(tr, j.state); cell(tr, j.kind); cell(tr, j.mailbox); cell(tr, j.source);
    cell(tr, j.reason);
    const actions = cell(tr, '');
    if (j.state === 'failed') {
      const retry = button(actions, 'Retry', () => api('POST', `/api/queues/ingest/${j.id}/retry`).then(loadQueues));
      retry.setAttribute('aria-label', `Retry ingest job ${j.id}`);
      retry.dataset.action = 'retry';
    }
    const remove = button(actions, 'Delete', () => api('DELETE', `/api/queues/ingest/${j.id}`).then(loadQueues), true);
    remove.setAttribute('aria-label', `Delete ingest job ${j.id} and its recording`);
    remove.dataset.action = 'delete';
    jobs.appendChild(tr);
  }
  const rows = $('smtp-rows');
  rows.replaceChildren();
  for (const e of q.smtp) {
    const tr = document.createElement('tr');
    cell(tr, e.id); cell(tr, e.sender || '<>');
    cell(tr, e.recipients.map((r) => `${r.address}: ${r.state}${r.last_reply ? ' (' + r.last_reply + ')' : ''}`).join('; '));
    const actions = cell(tr, '');
    button(actions, 'Retry', () => api('POST', `/api/queues/smtp/${e.id}/retry`).then(loadQueues));
    button(actions, 'Delete', () => api('DELETE', `/api/queues/smtp/${e.id}`).then(loadQueues), true);
    rows.appendChild(tr);
  }
}

async function loadGateways() {
  const g = await api('GET', '/api/gateways');
  const rows = $('gateway-rows');
  rows.replaceChildren();
  for (const gw of g.gateways) {
    const tr = document.createElement('tr');
    tr.dataset.name = gw.name;
    cell(tr, gw.name);
    cell(tr, gw.source === 'config' ? 'in [gateways] of the config file'
      : `issued by ${gw.created_by}, ${when(gw.created_ms)}`);
    const actions = cell(tr, '');
    if (gw.source === 'console') {
      button(actions, 'Revoke', () => (!confirm(`Revoke the token of ${gw.name}? Its requests get 401 from now on.`) ? Promise.resolve()
        : api('DELETE', `/api/gateways/${encodeURIComponent(gw.name)}`).then(() => {
        $('gateway-token-box').hidden = true;
        status(`Token of ${gw.name} revoked.`);
        return loadGateways();
      })), true).setAttribute('aria-label', `Revoke the token of gateway ${gw.name}`);
    }
    rows.appendChild(tr);
  }
}

function showErasure(r) {
  const what = r.dry_run ? 'would be erased' : 'erased';
  $('erase-summary').textContent = `${r.caller}: ${r.messages.length} message(s), ${r.ingest_jobs.length} ingest job(s) ` +
    `and ${r.spool_files.length} spool file(s) ${what}.`;
  const rows = $('erase-rows');
  rows.replaceChildren();
  for (const m of r.messages) {
    const tr = document.createElement('tr');
    cell(tr, m.mailbox); cell(tr, m.folder); cell(tr, m.uid); cell(tr, m.kind); cell(tr, m.date);
    rows.appendChild(tr);
  }
}

async function loadAudit() {
  const rows = $('audit-rows');
  const list = await api('GET', '/api/audit?limit=200');
  rows.replaceChildren();
  for (const e of list) {
    const tr = document.createElement('tr');
    cell(tr, when(e.at_ms)); cell(tr, e.actor); cell(tr, e.action); cell(tr, e.target); cell(tr, e.address); cell(tr, e.outcome);
    rows.appendChild(tr);
  }
}

async function enrol() {
  show('enrol');
  const e = await api('GET', '/api/enrolment');
  $('enrol-qr').innerHTML = e.qr_svg;  // our own SVG (libqrencode), no script
  $('enrol-secret').textContent = e.secret;
  $('enrol-code').focus();
}

async function route() {
  status(notice);
  notice = '';
  const [, view, arg] = (location.hash || '#/dashboard').split('/');
  let session;
  try { session = await api('GET', '/api/session'); } catch (e) { show('login'); $('login-name').focus(); return; }
  csrf = session.csrf;
  if (session.enrolling) return enrol();
  if (view === 'mailboxes') { show('mailboxes'); return loadMailboxes(); }
  if (view === 'mailbox') { show('mailbox'); return openMailbox(decodeURIComponent(arg)); }
  if (view === 'queues') { show('queues'); return every(5, loadQueues); }
  if (view === 'gateways') { show('gateways'); return loadGateways(); }
  if (view === 'privacy') { show('privacy'); return undefined; }
  if (view === 'audit') { show('audit'); return every(5, loadAudit); }
  show('dashboard');
  every(3, loadDashboard);
}

function init() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    api('POST', '/api/session', { name: $('login-name').value, password: $('login-password').value, totp: $('login-totp').value })
      .then((s) => { csrf = s.csrf; $('login-password').value = ''; $('login-totp').value = ''; return route(); })
      .catch((err) => status(`Login refused: ${err.message}`));
  });
  $('enrol-form').addEventListener('submit', (e) => {
    e.preventDefault();
    api('POST', '/api/enrolment', { code: $('enrol-code').value })
      .then(() => { status('Authenticator confirmed.'); return route(); }).catch((err) => status(err.message));
  });
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); loadMailboxes().catch((err) => status(err.message)); });
  $('create-form').addEventListener('submit', (e) => {
    e.preventDefault();
    api('POST', '/api/mailboxes', {
      number: $('new-number').value, name: $('new-name').value, email: $('new-email').value,
      quota_bytes: Number($('new-quota').value),
    }).then((m) => { status(`Created ${m.number}; its password: ${m.password}`); return loadMailboxes(); })
      .catch((err) => status(err.message));
  });
  $('gateway-form').addEventListener('submit', (e) => {
    e.preventDefault();
    api('POST', '/api/gateways', { name: $('gateway-name').value }).then((t) => {
      $('gateway-token-name').textContent = t.name;
      $('gateway-token').value = t.token;
      $('gateway-token-box').hidden = false;
      $('gateway-token').focus();
      $('gateway-token').select();
      $('gateway-name').value = '';
      status(`Token for ${t.name} created; copy it now.`);
      return loadGateways();
    }).catch((err) => status(err.message));
  });
  $('erase-caller-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const caller = $('erase-caller').value;
    const dryRun = $('erase-dry-run').checked;
    if (!dryRun && !confirm(`Erase every message and recording from ${caller}, for real?`)) return;
    api('POST', '/api/privacy/erase-caller', { caller, dry_run: dryRun }).then(showErasure).catch((err) => status(err.message));
  });
  $('logout').addEventListener('click', () => api('DELETE', '/api/session').finally(() => { csrf = ''; show('login'); }));
  window.addEventListener('hashchange', route);
  route();
}

init();
