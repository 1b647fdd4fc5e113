// The page script (Gradio's js option: this function runs once when the page loads).
// - A new reply opens at its top (Gradio's own autoscroll is off): the chat scrolls so the question and
//   the start of the answer are in view; a new question scrolls to the bottom, where it appears.
// - Chat messages keep no event handlers, data-* or aria-* attributes, nor an SVG's viewBox (Gradio's
//   sanitiser), so one listener handles their buttons, and messages are patched after they render:
//   icons get their viewBox back, each message a short plain-text aria-label.
// - Buttons in messages talk to the server through one hidden textbox and button ("kind|payload").
() => {
  const ICON_VIEWBOX = "0 0 24 24";
  const LABEL_CHARS = 300;

  const scroller = (node) => {
    for (let el = node.parentElement; el; el = el.parentElement) {
      const style = getComputedStyle(el);
      if (/(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight) return el;
    }
    return null;
  };

  const seen = { replies: 0, questions: 0 };
  const followChat = () => {
    const chat = document.getElementById("qa-chat");
    if (!chat) return;
    const replies = chat.querySelectorAll(".qa-reply"), questions = chat.querySelectorAll(".qa-question");
    if (replies.length > seen.replies && replies.length) {
      const reply = replies[replies.length - 1], box = scroller(reply);
      const question = questions[questions.length - 1];
      if (box) {
        const top = box.getBoundingClientRect().top;
        const replyTop = reply.getBoundingClientRect().top;
        const questionTop = question ? question.getBoundingClientRect().top : replyTop;
        const anchor = replyTop - questionTop < box.clientHeight / 3 ? questionTop : replyTop;
        box.scrollTop += anchor - top - 12;
      }
    } else if (questions.length > seen.questions) {
      const box = scroller(questions[questions.length - 1]);
      if (box) box.scrollTop = box.scrollHeight;
    }
    seen.replies = replies.length;
    seen.questions = questions.length;
  };

  const shorten = (text) => {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length <= LABEL_CHARS ? flat : `${flat.slice(0, LABEL_CHARS - 1)}…`;
  };
  const labelMessages = () => {
    document.querySelectorAll("#qa-chat [aria-label][data-testid]").forEach((message) => {
      const own = message.querySelector(".qa-label");
      const question = message.querySelector(".qa-question");
      let label;
      if (own) label = own.title;
      else if (question) label = shorten(`Question: ${question.textContent}`);
      else label = shorten(message.textContent);
      if (message.getAttribute("aria-label") !== label) message.setAttribute("aria-label", label);
    });
  };
  const fixIcons = () => {
    document.querySelectorAll("svg.qa-icon:not([viewBox])").forEach((icon) => icon.setAttribute("viewBox", ICON_VIEWBOX));
  };

  const showSaved = () => {
    document.querySelectorAll("#qa-feedback-status .qa-saved").forEach((saved) => {
      for (const send of document.querySelectorAll("#qa-chat button.qa-send")) {
        if (send.value !== saved.title) continue;
        const sent = send.parentElement.querySelector(".qa-sent");
        if (sent && sent.textContent !== saved.textContent) sent.textContent = saved.textContent;
      }
    });
  };

  // A newly opened reading pane: announced as a dialog, its text scrolled to the marked sentence, Close focused.
  const scrollPane = () => {
    const text = document.querySelector("#qa-pane .qa-pane-text");
    if (!text || text.dataset.scrolled) return;
    const mark = text.querySelector(".qa-cited");
    if (!mark || !text.clientHeight) return;
    text.dataset.scrolled = "1";
    text.scrollTop = mark.offsetTop - text.offsetTop - text.clientHeight / 3;
    const pane = document.getElementById("qa-pane");
    pane.setAttribute("role", "dialog");
    pane.setAttribute("aria-label", "The article, at the cited sentence");
    document.getElementById("qa-pane-close")?.focus({ preventScroll: true });
  };

  const sortState = { column: null, descending: false };
  const cellValue = (row, column) => {
    const text = row.cells[column].textContent.trim();
    return /^\d+$/.test(text) ? Number(text) : text.toLowerCase();
  };
  const sortArticles = () => {
    const table = document.querySelector("table.qa-articles");
    if (!table || sortState.column === null) return;
    const heads = table.tHead.rows[0].cells;
    const wanted = sortState.descending ? "descending" : "ascending";
    if (heads[sortState.column].getAttribute("aria-sort") === wanted) return;
    [...heads].forEach((head) => head.removeAttribute("aria-sort"));
    heads[sortState.column].setAttribute("aria-sort", wanted);
    const body = table.tBodies[0];
    const rows = [...body.rows].sort((a, b) => {
      const x = cellValue(a, sortState.column), y = cellValue(b, sortState.column);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return sortState.descending ? -order : order;
    });
    rows.forEach((row) => body.appendChild(row));
  };

  const patch = () => {
    followChat();
    fixIcons();
    labelMessages();
    showSaved();
    scrollPane();
    sortArticles();
  };
  new MutationObserver(() => requestAnimationFrame(patch))
    .observe(document.documentElement, { childList: true, subtree: true, characterData: true });

  const send = (kind, payload) => {
    const box = document.querySelector("#qa-action textarea, #qa-action input");
    const button = document.getElementById("qa-action-send");
    if (!box || !button) return;
    box.value = `${kind}|${payload}`;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(() => button.click(), 0);
  };
  const copy = async (text) => {
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
  };

  const onVote = (button) => {
    const actions = button.closest(".qa-actions");
    const undo = button.classList.contains("qa-pressed");
    actions.querySelectorAll("button.qa-vote").forEach((b) => b.classList.remove("qa-pressed"));
    if (!undo) button.classList.add("qa-pressed");
    const form = actions.querySelector(".qa-feedback");
    form.hidden = undo;
    form.querySelector(".qa-sent").textContent = "";
    send("vote", undo ? button.value.replace(/:(up|down)$/, ":none") : button.value);
    if (!undo) form.querySelector("select").focus({ preventScroll: true });
  };
  const onSend = (button) => {
    const form = button.closest(".qa-feedback");
    const reason = form.querySelector("select").value, comment = form.querySelector("input").value;
    send("comment", `${button.value}|${reason}|${comment.replace(/\s+/g, " ")}`);
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.classList.contains("qa-copy")) {
      copy(button.value).then(() => {
        button.textContent = "Copied ✓";
        setTimeout(() => { button.textContent = "Copy"; }, 1500);
      });
    } else if (button.classList.contains("qa-vote")) {
      onVote(button);
    } else if (button.classList.contains("qa-send")) {
      onSend(button);
    } else if (button.classList.contains("qa-open")) {
      send("open", button.value);
    } else if (button.classList.contains("qa-sort")) {
      const column = Number(button.value);
      sortState.descending = sortState.column === column ? !sortState.descending : false;
      sortState.column = column;
      sortArticles();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches(".qa-feedback input")) {
      event.preventDefault();
      onSend(event.target.closest(".qa-feedback").querySelector("button.qa-send"));
    } else if (event.key === "Escape") {
      document.getElementById("qa-pane-close")?.click();
    }
  });
}
