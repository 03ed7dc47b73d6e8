// The playground page: a thin view over /api/playground. The server renders every
// message and form to safe HTML; this script only lays them out and sends what you do.
"use strict";

const api = "/api/playground";
// This page's own id: a form left open on another page (or before a reload) is not
// brought back here, so an abandoned form never reopens on the next visit.
const page = Math.random().toString(36).slice(2) + Date.now().toString(36);
const $ = (sel) => document.querySelector(sel);
const params = new URLSearchParams(location.search);
const view = {
  as: localStorage.getItem("copbot.persona") || "sam",
  channel: params.get("channel") || "general",
  thread: params.get("thread") || null,
  data: null,
  editing: null,
  menu: false, // the channel list, on a screen too narrow to show it beside the channel
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

// The accessible name of a button repeated on every message: what it shows, then which
// message it belongs to (the server's "subject"), so a screen reader can tell them apart.
const named = (label, about) => (about && about !== label ? `${label}: '${about}'` : label);

async function call(path, body) {
  const response = await fetch(api + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ as: view.as, ...body }),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok && response.status !== 422) throw new Error(data.error || "Something went wrong; please try again.");
  return data;
}

let loading = null;
let again = false;
async function load() {
  if (loading) { again = true; return loading; }
  loading = (async () => {
    const q = new URLSearchParams({ as: view.as, channel: view.channel, page });
    const response = await fetch(`${api}/state?${q}`);
    if (response.ok) { view.data = await response.json(); render(); }
    else if (response.status === 400 && view.channel !== "general") {
      // A channel this persona can't see (#leads, for Sam) or that isn't there: say so and
      // show #general, never a page that can't be used or the last persona's channel.
      const { error } = await response.json().catch(() => ({}));
      view.channel = "general";
      view.thread = null;
      history.replaceState(null, "", "?channel=general");
      $("#composer .composer-error").textContent = error || "That channel isn't there.";
      again = true;
    }
  })();
  try { await loading; } finally {
    loading = null;
    if (again) { again = false; load(); }
  }
}

// Every change redraws the lists. The control that had focus is found again in the new
// ones (the same message's button, by its name, else at the same place), so that someone
// using a keyboard or a screen reader is not sent back to the top of the page; when it has
// gone (a dismissed answer, a closed menu), focus goes to the message box beside it.
const FOCUSABLE = "button, a[href], textarea";
const nameOf = (c) => c.getAttribute("aria-label") || c.textContent.trim();

function focusKey(control = document.activeElement) {
  const pane = control?.closest("#messages, #thread-messages, #channels, #direct");
  const item = pane && control.closest("li");
  if (!item) return null; // the message boxes, the picker and the form stay in place
  const controls = [...item.querySelectorAll(FOCUSABLE)];
  return { pane: pane.id, item: item.dataset.key, name: nameOf(control), at: controls.indexOf(control) };
}

function refocus(key) {
  if (!key) return;
  const item = [...document.querySelectorAll(`#${key.pane} > li`)].find((li) => li.dataset.key === key.item);
  const controls = item ? [...item.querySelectorAll(FOCUSABLE)].filter((c) => c.checkVisibility()) : [];
  const box = key.pane === "thread-messages" && !$("#thread").hidden ? "#thread-message" : "#message";
  const target = controls.find((c) => nameOf(c) === key.name || c.textContent.trim() === key.text) ||
    controls[key.at];
  (target || $(box)).focus();
}

const lost = () => !document.activeElement || document.activeElement === document.body;

// Lists change only where they differ: a message drawn the same is left in place. The
// channel is a live region, so that a screen reader says what is new, and only that,
// rather than the whole channel again at every change anywhere in the playground.
function patch(list, nodes) {
  const old = new Map([...list.children].map((c) => [c.dataset.key, c]));
  const wanted = nodes.map((n) => {
    const same = old.get(n.dataset.key);
    return same && same.isEqualNode(n) ? same : n;
  });
  const keep = new Set(wanted);
  for (const child of [...list.children]) if (!keep.has(child)) child.remove();
  wanted.forEach((n, i) => { if (list.children[i] !== n) list.insertBefore(n, list.children[i] || null); });
}

function render() {
  const d = view.data;
  const focused = focusKey();
  const persona = $("#persona");
  if (!persona.options.length) {
    for (const p of d.personas) persona.append(el("option", { value: p.id }, `${p.name} (${p.role}): ${p.title}`));
  }
  persona.value = d.me.id;
  // The console signs in whoever is chosen here (the playground only).
  $("#console-link").href = `/console/playground?as=${encodeURIComponent(d.me.id)}`;

  const link = (id, name) => el("li", { "data-key": id }, el("a", {
    href: `?channel=${encodeURIComponent(id)}`,
    ...(id === view.channel ? { "aria-current": "page" } : {}),
    onclick: (e) => { e.preventDefault(); openChannel(id); },
  }, name));
  patch($("#channels"), d.channels.map((c) => link(c.id, c.name)));
  patch($("#direct"), [link(d.direct.id, d.direct.name)]);

  const isDirect = view.channel === d.direct.id;
  const title = isDirect ? d.direct.name : `#${view.channel}`;
  $("#channel-title").textContent = title;
  $("#message").placeholder = `Message ${title} (try /cop help)`;

  const roots = d.messages.filter((m) => !m.thread_root);
  const replies = new Map();
  for (const m of d.messages) {
    if (m.thread_root) replies.set(m.thread_root, [...(replies.get(m.thread_root) || []), m]);
  }
  const list = $("#messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  patch(list, roots.length ? roots.map((m) => messageItem(m, replies.get(m.id) || [])) :
    [el("li", { class: "empty", "data-key": "empty" }, "No messages yet. Say hello, or type /cop help.")]);
  if (atBottom) list.scrollTop = list.scrollHeight;

  const panel = $("#thread");
  const root = view.thread && d.messages.find((m) => m.id === view.thread);
  panel.hidden = !root;
  if (root) {
    $("#thread-title").replaceChildren("Thread", el("span", { class: "thread-about" }, root.subject));
    patch($("#thread-messages"), [messageItem(root, [], true),
      ...(replies.get(root.id) || []).map((m) => messageItem(m, [], true))]);
  }
  // On a narrow screen the channel list and a thread each take the whole width (style.css).
  const layout = $("#layout");
  layout.classList.toggle("menu-open", view.menu);
  layout.classList.toggle("in-thread", Boolean(root));
  $("#menu").setAttribute("aria-expanded", String(view.menu));
  if (lost()) refocus(focused);
  showForm(d.forms[0]);
}

function messageItem(m, replies, inThread = false) {
  // The time as copbot says it (COPBOT_TIMEZONE, 24-hour, UK order), not the browser's.
  const head = el("div", { class: "msg-head" }, el("strong", {}, m.author_name), " ",
    el("time", { datetime: m.at }, m.when));
  // Spaces between the tags, so that a screen reader doesn't run them together.
  if (m.bot) head.append(" ", el("span", { class: "tag" }, "bot"));
  if (m.private) head.append(" ", el("span", { class: "tag" }, "only visible to you"));
  if (m.edited) head.append(" ", el("span", { class: "tag" }, "edited"));
  const body = el("div", { class: "msg-body" });
  body.innerHTML = m.html; // rendered and escaped by the server
  // The message a copied link points at (the address's #id) stands out.
  const highlight = location.hash === `#${m.id}` ? " highlight" : "";
  const item = el("li", { class: `msg${m.private ? " private" : ""}${highlight}`, id: m.id, "data-key": m.id, "data-author": m.author }, head, body);
  if (view.editing === m.id) {
    item.replaceChild(editor(m), body);
    return item;
  }
  const tools = el("div", { class: "msg-tools" });
  const tool = (label, onclick, cls = "linkish") =>
    el("button", { type: "button", class: cls, "aria-label": named(label, m.subject), onclick }, label);
  if (!inThread && !m.private) {
    // As in Slack, a count of what everyone can read: answers to one person aren't replies.
    const shared = replies.filter((r) => !r.private).length;
    const label = shared ? `${shared} repl${shared === 1 ? "y" : "ies"}` : "Reply in thread";
    // Replying is what a prompt is for: on the bot's messages it is the boldest button,
    // first in the row of the message's own buttons.
    const reply = tool(label, () => openThread(m.id), m.bot ? "btn btn-primary btn-reply opens-thread" : "linkish opens-thread");
    const row = body.querySelector(".b-buttons");
    if (m.bot && row) row.prepend(reply); else tools.append(reply);
  }
  if (!m.private) {
    const copy = tool("Copy link", () => copyLink(m.link, copy, named("Copy link", m.subject)));
    tools.append(copy);
  }
  if (m.private) tools.append(tool("Dismiss", () => dismiss(m.id)));
  if (m.mine) {
    tools.append(tool("Edit", () => { view.editing = m.id; render(); }));
    tools.append(tool("Delete", () => removeMessage(m.id)));
  }
  if (tools.childElementCount) item.append(tools);
  return item;
}

// As Slack's and Teams' message menus do: the link `/cop remove` (and anyone) reads.
async function copyLink(link, button, label) {
  try {
    await navigator.clipboard.writeText(link);
    button.textContent = "Copied";
    button.setAttribute("aria-label", "Copied"); // what a screen reader says, too
    setTimeout(() => { button.textContent = "Copy link"; button.setAttribute("aria-label", label); }, 1500);
  } catch {
    window.prompt("Copy this link:", link); // no clipboard here (a page not on localhost)
  }
}

function editor(m) {
  const box = el("textarea", { rows: "2", "aria-label": "Edit your message" });
  box.value = m.text;
  const form = el("form", { class: "composer" }, box,
    el("button", { type: "submit", class: "btn btn-primary" }, "Save"),
    el("button", { type: "button", class: "btn", onclick: () => stopEditing(m) }, "Cancel"),
    el("p", { class: "composer-error", role: "alert" }));
  const save = once(async () => {
    try { await call(`/messages/${m.id}/edit`, { text: box.value }); stopEditing(m); load(); }
    catch (err) { form.querySelector(".composer-error").textContent = err.message; }
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); save(); });
  setTimeout(() => box.focus());
  return form;
}

function stopEditing(m) {
  view.editing = null;
  render();
  refocus({ pane: $("#thread").contains(document.getElementById(m.id)) ? "thread-messages" : "messages",
    item: m.id, text: "Edit", at: -1 });
}

async function removeMessage(id) {
  if (!confirm("Delete this message? copbot's archive forgets it too.")) return;
  await call(`/messages/${id}/delete`, {}).catch((err) => alert(err.message));
  load();
}

async function dismiss(id) {
  await call(`/messages/${id}/dismiss`, {}).catch((err) => alert(err.message));
  load();
}

function openChannel(id) {
  view.channel = id;
  view.thread = null;
  view.menu = false;
  history.replaceState(null, "", `?channel=${encodeURIComponent(id)}`);
  load();
}

function openThread(id) {
  view.thread = id;
  history.replaceState(null, "", `?channel=${encodeURIComponent(view.channel)}&thread=${id}`);
  render();
  $("#thread-message").focus();
}

// One request at a time from a control: a second Enter or click while the first is on its
// way would post the message (or run the command) twice.
function once(work) {
  let busy = false;
  return async (...args) => {
    if (busy) return;
    busy = true;
    try { await work(...args); } finally { busy = false; }
  };
}

function wireComposer(form, box, threadRoot) {
  const send = once(async () => {
    const text = box.value.trim();
    const error = form.querySelector(".composer-error");
    if (!text) return;
    error.textContent = "";
    try {
      await call("/messages", { channel: view.channel, thread_root: threadRoot(), text });
      box.value = "";
      load();
    } catch (err) { error.textContent = err.message; }
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); }
  });
}

// Each message beside its field (and announced); the person's words stay as they wrote them.
function showErrors(f, errors) {
  for (const old of f.querySelectorAll(".field-error")) old.remove();
  for (const input of f.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  const unplaced = [];
  for (const [name, message] of Object.entries(errors)) {
    const input = f.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) { unplaced.push(message); continue; }
    const note = el("div", { class: "field-error", id: `err-${name}` }, message);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", note.id);
    (input.closest(".field") || input.parentElement).append(note);
  }
  f.querySelector(".form-error").textContent = unplaced.length ? unplaced.join(" ") :
    "Please check the highlighted answers.";
  f.querySelector("[aria-invalid]")?.focus();
}

let shownForm = null;
function showForm(form) {
  const dialog = $("#form-dialog");
  if (!form) {
    if (dialog.open) dialog.close();
    shownForm = null;
    return;
  }
  if (shownForm === form.token) return;
  shownForm = form.token;
  dialog.innerHTML = form.html; // rendered and escaped by the server
  const f = dialog.querySelector("form");
  f.querySelector("[data-close]").addEventListener("click", async () => {
    await call(`/forms/${form.token}/close`, {});
    dialog.close();
  });
  const submit = once(async () => {
    const values = {};
    for (const [k, v] of new FormData(f)) values[k] = v;
    try {
      const result = await call(`/forms/${form.token}`, { values });
      if (result.ok) { dialog.close(); shownForm = null; load(); return; }
      showErrors(f, result.errors || {});
    } catch (err) { f.querySelector(".form-error").textContent = err.message; }
  });
  f.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  dialog.oncancel = () => call(`/forms/${form.token}/close`, {});
  if (!dialog.open) {
    const opener = focusKey();
    dialog.onclose = () => { if (lost() || dialog.contains(document.activeElement)) refocus(opener); };
    dialog.showModal();
  }
}

document.addEventListener("click", async (e) => {
  const button = e.target.closest("button[data-action]");
  if (!button) return;
  const key = focusKey(button);
  button.disabled = true;
  try {
    await call("/actions", {
      message_id: button.dataset.message, action_id: button.dataset.action, value: button.dataset.value,
      in_thread: Boolean(button.closest("#thread")), // where copbot's answer should show
    });
  } catch (err) { alert(err.message); }
  finally {
    button.disabled = false;
    if (lost()) refocus(key);
  }
});

$("#persona").addEventListener("change", (e) => {
  view.as = e.target.value;
  localStorage.setItem("copbot.persona", view.as);
  shownForm = null;
  // Direct messages belong to a person: switch to a channel everyone can see.
  if (view.channel.startsWith("@")) openChannel("general"); else load();
});
$("#close-thread").addEventListener("click", () => {
  const root = view.thread;
  view.thread = null;
  history.replaceState(null, "", `?channel=${encodeURIComponent(view.channel)}`);
  render();
  const opener = [...document.querySelectorAll("#messages > li")].find((li) => li.dataset.key === root);
  (opener?.querySelector(".opens-thread") || $("#message")).focus();
});
$("#menu").addEventListener("click", () => { view.menu = !view.menu; render(); });
wireComposer($("#composer"), $("#message"), () => null);
wireComposer($("#thread-composer"), $("#thread-message"), () => view.thread);

new EventSource(`${api}/events`).onmessage = () => load();
load();
