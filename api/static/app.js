// socialopt Mini App and playground: plain modern JavaScript, no build step, nothing loaded
// from elsewhere. Inside Telegram it signs in with initData (window.Telegram.WebApp when the
// client injected it, else the #tgWebAppData=... hash Telegram opens the page with); outside,
// it uses an API key (a local one on this machine, or one pasted in).

const $ = (sel) => document.querySelector(sel);
const API = "/api/v1";
const WEB = `${API}/webapp`;
const KEY_STORE = "socialopt.apiKey";

const state = {
  auth: "",          // the Authorization header value
  telegram: null,    // {initData, theme, tg}
  facts: {},         // platform key -> limits and sizes
  doc: null,         // the session as the editor shows it
  current: "",       // the platform being edited
  edits: {},         // platform -> {box, fit, caption, hashtags, variant}
  blobs: [],         // object URLs to free when the view changes
  photo: null,       // the editor's HTMLImageElement (loaded)
};

// ------------------------------------------------------------------ messages

function say(text) { $("#status").textContent = text; }
function alertBox(text) {
  const box = $("#alert");
  box.textContent = text;
  box.hidden = !text;
}

class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.message || `The server answered ${status}.`);
    this.status = status;
    this.code = body?.error_code || "HTTP_" + status;
  }
}

async function api(path, { method = "GET", json, form, raw = false } = {}) {
  const headers = {};
  if (state.auth) headers.Authorization = state.auth;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const res = await fetch(path, { method, headers, body });
  if (!res.ok) {
    let err = null;
    try { err = await res.json(); } catch { /* not JSON */ }
    throw new ApiFailure(res.status, err);
  }
  return raw ? res : res.json();
}

function samePath(url) {
  // URLs from the API may carry API_PUBLIC_URL; fetch them from this origin.
  try { const u = new URL(url, location.href); return u.pathname + u.search; } catch { return url; }
}

async function blobUrl(path) {
  const res = await api(samePath(path), { raw: true });
  const url = URL.createObjectURL(await res.blob());
  state.blobs.push(url);
  return url;
}

// ------------------------------------------------------------------ Telegram

function telegramLaunch() {
  const tg = window.Telegram?.WebApp;
  if (tg?.initData) return { initData: tg.initData, theme: tg.themeParams || {}, tg };
  const hash = new URLSearchParams(location.hash.slice(1));
  const initData = hash.get("tgWebAppData");
  if (!initData) return null;
  let theme = {};
  try { theme = JSON.parse(hash.get("tgWebAppThemeParams") || "{}"); } catch { theme = {}; }
  return { initData, theme, tg: null };
}

function postEvent(type, data = {}) {
  // Telegram's Mini App events without its script: the mobile webview proxy, the desktop
  // client's notify, or the web client's parent frame (event names only, nothing secret).
  try {
    if (window.TelegramWebviewProxy?.postEvent) {
      window.TelegramWebviewProxy.postEvent(type, JSON.stringify(data));
    } else if (window.external && "notify" in window.external) {
      window.external.notify(JSON.stringify({ eventType: type, eventData: data }));
    } else if (window.parent !== window) {
      window.parent.postMessage(JSON.stringify({ eventType: type, eventData: data }), "*");
    }
  } catch { /* not inside Telegram */ }
}

const THEME_VARS = {
  bg_color: "--bg",
  text_color: "--text",
  hint_color: "--hint",
  link_color: "--link",
  button_color: "--accent",
  button_text_color: "--accent-text",
  secondary_bg_color: "--card",
};

function applyTheme(theme) {
  const root = document.documentElement;
  root.classList.add("tg");
  for (const [key, prop] of Object.entries(THEME_VARS)) {
    if (typeof theme[key] === "string" && /^#[0-9a-f]{3,8}$/i.test(theme[key])) {
      root.style.setProperty(prop, theme[key]);
    }
  }
}

// ------------------------------------------------------------------ counting like the platforms

const graphemer = typeof Intl !== "undefined" && Intl.Segmenter
  ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

function xLength(text) {
  // X's weighted count (pipeline.captions.x_length): light ranges 1, everything else 2.
  let n = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    const light = cp <= 0x10ff || (cp >= 0x2000 && cp <= 0x200d) ||
      (cp >= 0x2010 && cp <= 0x201f) || (cp >= 0x2032 && cp <= 0x2037);
    n += light ? 1 : 2;
  }
  return n;
}

function countText(text, facts) {
  let n;
  if (facts.counting === "graphemes") {
    n = graphemer ? [...graphemer.segment(text)].length : [...text].length;
  } else if (facts.counting === "x") {
    n = xLength(text);
  } else {
    n = [...text].length;
  }
  if (facts.caption_bytes) {
    const bytes = new TextEncoder().encode(text).length;
    n = Math.max(n, Math.ceil((bytes * facts.caption_limit) / facts.caption_bytes));
  }
  return n;
}

function parseTags(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

function postText(caption, tags, facts) {
  // what the post holds (pipeline.captions.ready_to_post)
  if (!facts.hashtags_in_post || !tags.length) return caption;
  if (!caption) return tags.join(" ");
  return caption + facts.separator + tags.join(" ");
}

// ------------------------------------------------------------------ sign-in and start

async function start() {
  state.telegram = telegramLaunch();
  const params = new URLSearchParams(location.search);
  if (state.telegram) {
    applyTheme(state.telegram.theme);
    if (state.telegram.tg) {
      state.telegram.tg.ready?.();
      state.telegram.tg.expand?.();
    } else {
      postEvent("web_app_ready");
      postEvent("web_app_expand");
    }
    state.auth = "tma " + state.telegram.initData;
    try {
      const me = await api(`${WEB}/me`);
      $("#who").textContent = me.telegram?.first_name ? `for ${me.telegram.first_name}` : "";
      const sid = params.get("session") || me.sessions[0]?.session_id;
      if (!sid) { say("No finished session yet: send the bot a photo first."); return; }
      await loadPlatforms();
      await openEditor(sid);
    } catch (err) {
      alertBox(err.status === 401
        ? `${err.message} (${err.code})`
        : `Could not open the editor: ${err.message} (${err.code || "ERROR"})`);
      say("");
    }
    return;
  }
  await signInWithKey();
  await loadPlatforms();
  showPlayground();
  const sid = params.get("session");
  if (sid) await showSession(sid);
}

async function signInWithKey() {
  const kept = localStorage.getItem(KEY_STORE);
  if (kept) {
    state.auth = "Bearer " + kept;
    try { await api(`${WEB}/me`); return; } catch { localStorage.removeItem(KEY_STORE); }
  }
  state.auth = "";
  try {
    const made = await api(`${WEB}/local-key`, { method: "POST" });
    localStorage.setItem(KEY_STORE, made.key);
    state.auth = "Bearer " + made.key;
    $("#who").textContent = "playground · local key";
    return;
  } catch (err) {
    $("#keybox").hidden = false;
    say(err.message);
    await new Promise((resolve) => {
      $("#keyform").addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const key = $("#keyinput").value.trim();
        state.auth = "Bearer " + key;
        try {
          await api(`${WEB}/me`);
          localStorage.setItem(KEY_STORE, key);
          $("#keybox").hidden = true;
          resolve();
        } catch (e) { say(`${e.message} (${e.code})`); }
      });
    });
  }
}

async function loadPlatforms() {
  const data = await api(`${WEB}/platforms`);
  for (const p of data.platforms) state.facts[p.key] = p;
}

// ------------------------------------------------------------------ the playground

const DEFAULT_PICK = ["instagram", "facebook", "linkedin", "pinterest", "x", "tiktok"];

function showPlayground() {
  $("#playground").hidden = false;
  const box = $("#platforms");
  for (const p of Object.values(state.facts)) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "platform";
    input.value = p.key;
    input.checked = DEFAULT_PICK.includes(p.key);
    label.append(input, " " + p.name);
    box.append(label);
  }
  const drop = $("#drop");
  const file = $("#file");
  const show = () => {
    const f = file.files[0];
    if (!f) return;
    $("#drop-text").textContent = `${f.name} · ${(f.size / 1048576).toFixed(1)} MB — choose another`;
    const thumb = $("#thumb");
    thumb.src = URL.createObjectURL(f);
    thumb.alt = `Chosen photo: ${f.name}`;
    thumb.hidden = false;
  };
  file.addEventListener("change", show);
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    if (ev.dataTransfer?.files?.length) {
      file.files = ev.dataTransfer.files;
      show();
    }
  });
  drop.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); file.click(); }
  });
  drop.tabIndex = 0;
  $("#upload").addEventListener("submit", submit);
  $("#again").addEventListener("click", () => {
    $("#results").hidden = true;
    $("#editor").hidden = true;
    $("#playground").hidden = false;
    history.replaceState(null, "", location.pathname);
  });
}

async function submit(ev) {
  ev.preventDefault();
  alertBox("");
  const f = $("#file").files[0];
  const picked = [...document.querySelectorAll("input[name=platform]:checked")].map((i) => i.value);
  if (!f) { alertBox("Choose a photo first."); return; }
  if (!picked.length) { alertBox("Pick at least one platform."); return; }
  const form = new FormData();
  form.append("image", f, f.name);
  form.append("platforms", picked.join(","));
  form.append("description", $("#description").value.trim());
  const button = $("#submit");
  const bar = $("#progress");
  button.disabled = true;
  bar.hidden = false;
  bar.value = 0;
  try {
    say("Uploading…");
    const started = await api(`${API}/optimize/image`, { method: "POST", form });
    const sid = started.session_id;
    for (;;) {
      const st = await api(`${API}/optimize/status/${sid}`);
      const pr = st.progress || {};
      bar.value = pr.percentage || 0;
      say(st.status === "processing" || st.status === "pending"
        ? `Working… ${Math.round(pr.percentage || 0)}% ${pr.current_platform || ""}`
        : "");
      if (!["pending", "processing"].includes(st.status)) {
        if (st.status !== "completed") {
          throw new ApiFailure(400, { message: st.error?.message || st.status,
            error_code: st.error?.code });
        }
        break;
      }
      await new Promise((r) => setTimeout(r, 400));
    }
    history.replaceState(null, "", `?session=${sid}`);
    await showSession(sid);
  } catch (err) {
    alertBox(`${err.message} (${err.code || "ERROR"})`);
    say("");
  } finally {
    button.disabled = false;
    bar.hidden = true;
  }
}

async function showSession(sid) {
  say("Loading results…");
  const res = await api(`${API}/optimize/results/${sid}`);
  $("#playground").hidden = true;
  await renderResults(res);
  await openEditor(sid);
}

function copyButton(label, text) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const t = document.createElement("textarea");
      t.value = text;
      document.body.append(t);
      t.select();
      document.execCommand("copy");
      t.remove();
    }
    b.textContent = "Copied ✓";
    setTimeout(() => { b.textContent = label; }, 1500);
  });
  return b;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

async function renderResults(res) {
  $("#results").hidden = false;
  const files = res.files || {};
  if (files.preview) $("#sheet").src = await blobUrl(files.preview + `?t=${Date.now()}`);
  const zip = $("#zip");
  zip.onclick = async (ev) => {
    if (zip.dataset.ready) return;
    ev.preventDefault();
    zip.href = await blobUrl(files.zip);
    zip.download = `socialopt_${res.session_id}.zip`;
    zip.dataset.ready = "1";
    zip.click();
  };
  delete zip.dataset.ready;
  const cards = $("#cards");
  cards.replaceChildren();
  for (const [key, p] of Object.entries(res.results.platforms || {})) {
    const facts = state.facts[key] || { name: key };
    const card = el("article", { className: "card", id: `card-${key}` });
    const size = p.image ? `${p.image.width}×${p.image.height}` : "failed";
    card.append(el("h3", {}, `${facts.name} · ${size}`));
    if (files.optimized_images?.[key]) {
      const img = el("img", { alt: p.alt_text || `${facts.name} crop` });
      img.src = await blobUrl(files.optimized_images[key] + `?t=${Date.now()}`);
      card.append(img);
    }
    if (p.error) card.append(el("p", { className: "alert" }, `${p.error.message} (${p.error.code})`));
    card.append(el("pre", { className: "caption" }, p.ready_to_post || p.caption || ""));
    const row = el("p", { className: "actions" }, copyButton("Copy caption", p.ready_to_post || ""));
    if (p.first_comment) row.append(copyButton("Copy first comment", p.first_comment));
    card.append(row);
    if ((p.hashtag_list || []).length) {
      card.append(el("p", { className: "tags" }, p.hashtag_list.join(" ")));
    }
    if (p.alt_text) card.append(el("p", { className: "hint" }, "Alt text: " + p.alt_text));
    const times = p.posting_times || [];
    if (times.length) {
      const list = el("ul");
      for (const t of times.slice(0, 4)) {
        list.append(el("li", {}, `${t.day} ${t.start}–${t.end} (${t.timezone})`));
      }
      card.append(el("p", { className: "hint" }, "Best times to post:"), list);
    } else if (p.posting_times_note) {
      card.append(el("p", { className: "hint" }, p.posting_times_note));
    }
    const edit = el("button", { type: "button", textContent: "Adjust crop & caption" });
    edit.addEventListener("click", () => {
      selectPlatform(key);
      $("#editor").scrollIntoView({ behavior: "smooth" });
    });
    card.append(edit);
    cards.append(card);
  }
}

// ------------------------------------------------------------------ the editor

async function openEditor(sid) {
  say("Loading the editor…");
  state.doc = await api(`${WEB}/sessions/${sid}`);
  state.edits = {};
  const photo = $("#photo");
  await new Promise(async (resolve, reject) => {
    photo.onload = resolve;
    photo.onerror = () => reject(new Error("The photo could not be shown."));
    photo.src = await blobUrl(state.doc.photo_url);
  });
  state.photo = photo;
  $("#editor").hidden = false;
  buildTabs();
  const first = state.doc.platforms.find((p) => p.image) || state.doc.platforms[0];
  selectPlatform(state.current && platformOf(state.current) ? state.current : first.key);
  say("");
}

function platformOf(key) { return state.doc?.platforms.find((p) => p.key === key); }

function editOf(key) {
  const p = platformOf(key);
  if (!state.edits[key]) {
    state.edits[key] = {
      box: p.image ? (p.image.fit === "pad" ? null : [...p.image.frame]) : null,
      frame: p.image ? [...p.image.frame] : null,
      fit: p.image?.fit || "crop",
      caption: p.caption,
      hashtags: p.hashtags.join(" "),
      variant: p.variant,
    };
  }
  return state.edits[key];
}

function changes(key) {
  // what differs from the stored session, in the adjust endpoint's shape
  const p = platformOf(key);
  const e = state.edits[key];
  if (!e) return null;
  const out = {};
  if (p.image) {
    if (e.fit !== p.image.fit) out.fit = e.fit;
    if (e.fit === "crop" && (p.image.fit !== "crop" || e.frame.some((v, i) => v !== p.image.crop_box[i]))) {
      out.crop_box = e.frame;
    }
  }
  if (e.caption !== p.caption) out.caption = e.caption;
  if (e.hashtags !== p.hashtags.join(" ")) out.hashtags = e.hashtags;
  if (e.variant !== p.variant && e.variant !== null && e.variant !== undefined) out.variant = e.variant;
  return Object.keys(out).length ? out : null;
}

function buildTabs() {
  const tabs = $("#tabs");
  tabs.replaceChildren();
  for (const p of state.doc.platforms) {
    const b = el("button", {
      type: "button", id: `tab-${p.key}`, textContent: p.name, tabIndex: -1,
    });
    b.setAttribute("role", "tab");
    b.setAttribute("aria-controls", "panel");
    b.dataset.key = p.key;
    b.addEventListener("click", () => selectPlatform(p.key));
    b.addEventListener("keydown", (ev) => {
      const all = [...tabs.children];
      const i = all.indexOf(b);
      const next = ev.key === "ArrowRight" ? all[(i + 1) % all.length]
        : ev.key === "ArrowLeft" ? all[(i - 1 + all.length) % all.length] : null;
      if (next) { ev.preventDefault(); selectPlatform(next.dataset.key); next.focus(); }
    });
    tabs.append(b);
  }
}

function selectPlatform(key) {
  state.current = key;
  for (const b of $("#tabs").children) {
    const on = b.dataset.key === key;
    b.setAttribute("aria-selected", String(on));
    b.tabIndex = on ? 0 : -1;
  }
  $("#panel").setAttribute("aria-labelledby", `tab-${key}`);
  const p = platformOf(key);
  const e = editOf(key);
  // fit
  for (const r of document.querySelectorAll("input[name=fit]")) {
    r.checked = r.value === e.fit;
    r.disabled = !p.image;
  }
  // caption versions
  const sel = $("#variant");
  sel.replaceChildren();
  sel.append(el("option", { value: "", textContent: "As written" }));
  for (const v of p.variants) {
    const short = v.caption.length > 60 ? v.caption.slice(0, 60) + "…" : v.caption;
    sel.append(el("option", { value: String(v.variant), textContent: `Version ${v.variant + 1}: ${short}` }));
  }
  sel.value = e.variant === null || e.variant === undefined ? "" : String(e.variant);
  $("#caption").value = e.caption;
  $("#hashtags").value = e.hashtags;
  $("#hashtags-label").textContent = p.hashtags_in_post
    ? `Hashtags (in the post on ${p.name})` : "First comment (hashtags)";
  $("#alt").textContent = p.alt_text || "(none on this platform)";
  drawFrames();
  updateCounts();
  drawPreview();
}

function frameStyle(node, box) {
  const { width: W, height: H } = state.doc.source;
  node.style.left = `${(box[0] / W) * 100}%`;
  node.style.top = `${(box[1] / H) * 100}%`;
  node.style.width = `${((box[2] - box[0]) / W) * 100}%`;
  node.style.height = `${((box[3] - box[1]) / H) * 100}%`;
}

function drawFrames() {
  const layer = $("#frames");
  layer.replaceChildren();
  const { width: W, height: H } = state.doc.source;
  for (const p of state.doc.platforms) {
    if (!p.image) continue;
    const e = editOf(p.key);
    const active = p.key === state.current;
    const box = e.fit === "pad" ? [0, 0, W, H] : e.frame;
    const node = el("div", { className: "frame" + (active ? " active" : "") });
    node.dataset.key = p.key;
    node.append(el("span", { textContent: `${p.name}${e.fit === "pad" ? " (pad)" : ""}` }));
    frameStyle(node, box);
    if (active) {
      node.tabIndex = 0;
      node.id = "active-frame";
      node.setAttribute("role", "group");
      node.setAttribute("aria-roledescription", "crop frame");
      node.setAttribute("aria-describedby", "frame-help");
      labelFrame(node, p, e);
      if (e.fit === "pad") {
        node.classList.add("padded");
      } else {
        const handle = el("div", { className: "handle", title: "Resize" });
        handle.setAttribute("aria-hidden", "true");
        node.append(handle);
        bindDrag(node, handle, p);
      }
      node.addEventListener("keydown", (ev) => onFrameKey(ev, p));
    }
    layer.append(node);
  }
}

function labelFrame(node, p, e) {
  const b = e.frame;
  node.setAttribute("aria-label", e.fit === "pad"
    ? `${p.name} frame: the whole photo is padded into ${p.image.width}×${p.image.height}`
    : `${p.name} frame, ${p.image.width}×${p.image.height}: left ${b[0]}, top ${b[1]}, ` +
      `${b[2] - b[0]}×${b[3] - b[1]} pixels of the photo`);
}

function clampBox(box, aspect) {
  // keep the aspect, stay inside the photo, at least 32 px (adjust.lock_box on the server)
  const { width: W, height: H } = state.doc.source;
  let w = box[2] - box[0];
  const maxW = Math.min(W, H * aspect);
  w = Math.max(Math.max(32, 32 * aspect), Math.min(maxW, w));
  let h = w / aspect;
  if (h > H) { h = H; w = h * aspect; }
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2;
  let x = Math.min(Math.max(cx - w / 2, 0), W - w);
  let y = Math.min(Math.max(cy - h / 2, 0), H - h);
  x = Math.round(x); y = Math.round(y);
  return [x, y, x + Math.round(w), y + Math.round(h)];
}

function setFrame(p, box) {
  const e = editOf(p.key);
  e.frame = clampBox(box, p.image.width / p.image.height);
  const node = $("#active-frame");
  if (node) { frameStyle(node, e.frame); labelFrame(node, p, e); }
  markDirty();
  drawPreview();
}

function onFrameKey(ev, p) {
  const e = editOf(p.key);
  if (e.fit === "pad") return;
  const { width: W, height: H } = state.doc.source;
  const step = Math.max(1, Math.round(Math.max(W, H) * (ev.shiftKey ? 0.05 : 0.01)));
  const [x0, y0, x1, y1] = e.frame;
  let box = null;
  if (ev.key === "ArrowLeft") box = [x0 - step, y0, x1 - step, y1];
  else if (ev.key === "ArrowRight") box = [x0 + step, y0, x1 + step, y1];
  else if (ev.key === "ArrowUp") box = [x0, y0 - step, x1, y1 - step];
  else if (ev.key === "ArrowDown") box = [x0, y0 + step, x1, y1 + step];
  else if (ev.key === "+" || ev.key === "=" || ev.key === "-" || ev.key === "_") {
    const k = ev.key === "+" || ev.key === "=" ? 1.05 : 1 / 1.05;
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const w = (x1 - x0) * k, h = (y1 - y0) * k;
    box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
  }
  if (box) {
    ev.preventDefault();
    // moving: keep the size (clampBox re-centres), so shift the centre inside first
    setFrame(p, box);
  }
}

function bindDrag(node, handle, p) {
  node.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    ev.preventDefault();
    node.focus();
    const e = editOf(p.key);
    const rect = $("#photo").getBoundingClientRect();
    const scale = state.doc.source.width / rect.width; // source px per CSS px
    const start = [...e.frame];
    const sx = ev.clientX, sy = ev.clientY;
    const resizing = ev.target === handle;
    const aspect = p.image.width / p.image.height;
    node.setPointerCapture(ev.pointerId);
    const move = (mv) => {
      const dx = (mv.clientX - sx) * scale;
      const dy = (mv.clientY - sy) * scale;
      if (resizing) {
        // the top-left corner stays; the width follows the larger of the two moves
        const w = Math.max(start[2] - start[0] + dx, (start[3] - start[1] + dy) * aspect);
        const { width: W, height: H } = state.doc.source;
        const maxW = Math.min(W - start[0], (H - start[1]) * aspect);
        const ww = Math.max(32 * Math.max(1, aspect), Math.min(maxW, w));
        setFrame(p, [start[0], start[1], start[0] + ww, start[1] + ww / aspect]);
      } else {
        setFrame(p, [start[0] + dx, start[1] + dy, start[2] + dx, start[3] + dy]);
      }
    };
    const up = () => {
      node.removeEventListener("pointermove", move);
      node.removeEventListener("pointerup", up);
      node.removeEventListener("pointercancel", up);
    };
    node.addEventListener("pointermove", move);
    node.addEventListener("pointerup", up);
    node.addEventListener("pointercancel", up);
  });
}

function drawPreview() {
  const p = platformOf(state.current);
  const canvas = $("#preview");
  const ctx = canvas.getContext("2d");
  if (!p?.image || !state.photo) {
    canvas.width = 320; canvas.height = 80;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    $("#preview-cap").textContent = "No image for this platform.";
    return;
  }
  const e = editOf(p.key);
  const aspect = p.image.width / p.image.height;
  const side = 320;
  canvas.width = aspect >= 1 ? side : Math.round(side * aspect);
  canvas.height = aspect >= 1 ? Math.round(side / aspect) : side;
  const img = state.photo;
  const k = img.naturalWidth / state.doc.source.width; // editor copy px per source px
  if (e.fit === "pad") {
    // the whole photo over a blurred, dimmed copy of itself (pipeline.render.pad_resize)
    ctx.filter = "blur(8px) brightness(0.55)";
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    ctx.filter = "none";
    const f = Math.min(canvas.width / img.naturalWidth, canvas.height / img.naturalHeight);
    const w = img.naturalWidth * f, h = img.naturalHeight * f;
    ctx.drawImage(img, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
  } else {
    const [x0, y0, x1, y1] = e.frame;
    ctx.drawImage(img, x0 * k, y0 * k, (x1 - x0) * k, (y1 - y0) * k, 0, 0, canvas.width, canvas.height);
  }
  $("#preview-cap").textContent = `${p.name} · ${p.image.width}×${p.image.height} · ${e.fit}`;
  canvas.setAttribute("aria-label", `Live preview of the ${p.name} crop (${e.fit})`);
}

function updateCounts() {
  const p = platformOf(state.current);
  if (!p) return;
  const facts = p;
  const e = editOf(p.key);
  const tags = parseTags(e.hashtags);
  const post = postText(e.caption.trim(), tags, facts);
  const n = countText(post, facts);
  const what = facts.hashtags_in_post ? "post with hashtags" : "caption";
  const over = n > facts.caption_limit;
  const cc = $("#caption-count");
  cc.textContent = `${n.toLocaleString()} / ${facts.caption_limit.toLocaleString()} ${facts.unit}` +
    ` (${what})` + (over ? ` — ${(n - facts.caption_limit).toLocaleString()} over the limit` : "");
  cc.classList.toggle("over", over);
  $("#caption").setAttribute("aria-invalid", String(over));
  const badTags = tags.filter((t) => !/^#[\p{L}\p{N}_]+$/u.test(t));
  const tooMany = tags.length > facts.hashtag_max;
  const hc = $("#hashtags-count");
  hc.textContent = `${tags.length} / ${facts.hashtag_max} hashtags` +
    (tooMany ? " — too many" : "") + (badTags.length ? ` — not a hashtag: ${badTags[0]}` : "");
  hc.classList.toggle("over", tooMany || badTags.length > 0);
  $("#hashtags").setAttribute("aria-invalid", String(tooMany || badTags.length > 0));
  updateSave();
}

function problems() {
  const out = [];
  for (const key of Object.keys(state.edits)) {
    const p = platformOf(key);
    const e = state.edits[key];
    const tags = parseTags(e.hashtags);
    if (countText(postText(e.caption.trim(), tags, p), p) > p.caption_limit) {
      out.push(`${p.name}: the caption is over the limit`);
    }
    if (tags.length > p.hashtag_max) out.push(`${p.name}: too many hashtags`);
  }
  return out;
}

function markDirty() {
  for (const b of $("#tabs").children) {
    b.classList.toggle("dirty", Boolean(changes(b.dataset.key)));
  }
  updateSave();
}

function updateSave() {
  const dirty = state.doc.platforms.some((p) => changes(p.key));
  const bad = problems();
  $("#save").disabled = !dirty || bad.length > 0;
  $("#save-note").textContent = bad.length ? bad.join("; ") + "." : dirty ? "Unsaved changes." : "";
}

function bindEditor() {
  for (const r of document.querySelectorAll("input[name=fit]")) {
    r.addEventListener("change", () => {
      const p = platformOf(state.current);
      editOf(p.key).fit = r.value;
      drawFrames();
      drawPreview();
      markDirty();
    });
  }
  $("#variant").addEventListener("change", () => {
    const p = platformOf(state.current);
    const e = editOf(p.key);
    const v = $("#variant").value;
    if (v === "") { e.variant = p.variant; e.caption = p.caption; }
    else {
      e.variant = Number(v);
      e.caption = p.variants.find((x) => x.variant === e.variant)?.caption ?? e.caption;
    }
    $("#caption").value = e.caption;
    updateCounts();
    markDirty();
  });
  $("#caption").addEventListener("input", () => {
    editOf(state.current).caption = $("#caption").value;
    updateCounts();
    markDirty();
  });
  $("#hashtags").addEventListener("input", () => {
    editOf(state.current).hashtags = $("#hashtags").value;
    updateCounts();
    markDirty();
  });
  $("#reset").addEventListener("click", () => {
    delete state.edits[state.current];
    selectPlatform(state.current);
    markDirty();
  });
  $("#save").addEventListener("click", save);
  window.addEventListener("resize", () => drawFrames());
}

async function save() {
  const platforms = {};
  for (const p of state.doc.platforms) {
    const c = changes(p.key);
    if (c) platforms[p.key] = c;
  }
  if (!Object.keys(platforms).length) return;
  const button = $("#save");
  button.disabled = true;
  alertBox("");
  say("Saving and re-rendering…");
  try {
    const out = await api(`${WEB}/sessions/${state.doc.session_id}/adjust`, {
      method: "POST", json: { platforms },
    });
    const names = out.changed.map((k) => state.facts[k]?.name || k).join(", ");
    let note = `Saved: ${names || "nothing changed"}.`;
    if (out.telegram) {
      note += out.telegram.error ? ` ${out.telegram.error}` : " Sent to your chat.";
    }
    state.doc = out.session;
    state.edits = {};
    drawFrames();
    selectPlatform(state.current);
    markDirty();
    say(note);
    $("#save-note").textContent = note;
    if (!state.telegram && !$("#results").hidden) {
      await renderResults(await api(`${API}/optimize/results/${state.doc.session_id}`));
    }
    state.telegram?.tg?.HapticFeedback?.notificationOccurred?.("success");
  } catch (err) {
    alertBox(`${err.message} (${err.code || "ERROR"})`);
    say("");
    updateSave();
  }
}

bindEditor();
start().catch((err) => { alertBox(`${err.message} (${err.code || "ERROR"})`); });
