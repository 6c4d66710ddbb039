// The operator console's only script. Pages work without it; it adds dialogs, the typed
// confirmation check and a busy indicator for long requests (backup, restore).
"use strict";

function showBusy(form) {
  const status = document.createElement("p");
  status.className = "busy";
  status.setAttribute("role", "status");
  const spinner = document.createElement("span");
  spinner.className = "spinner";
  spinner.setAttribute("aria-hidden", "true");
  status.append(spinner, " ", form.dataset.busy);
  form.append(status);
  form.setAttribute("aria-busy", "true");
}

function guardBusyForms() {
  for (const form of document.querySelectorAll("form[data-busy]")) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.submitted) {
        event.preventDefault(); // one backup or restore per click
        return;
      }
      form.dataset.submitted = "yes";
      showBusy(form);
      // The submission is already under way; disabling its button now does not cancel it.
      for (const button of form.querySelectorAll("button")) button.disabled = true;
    });
  }
}

function requireTypedNames() {
  for (const input of document.querySelectorAll("input[data-must-equal]")) {
    const submit = input.form.querySelector("button[type=submit]");
    const update = () => {
      submit.disabled = input.value !== input.dataset.mustEqual;
    };
    input.addEventListener("input", update);
    update();
  }
}

function openDialogs() {
  for (const link of document.querySelectorAll("a[data-dialog]")) {
    link.addEventListener("click", (event) => {
      const dialog = document.getElementById(link.dataset.dialog);
      if (!dialog || typeof dialog.showModal !== "function") return; // the page instead
      event.preventDefault();
      const name = link.dataset.name;
      const form = dialog.querySelector("form");
      form.action = form.dataset.action.replace("{name}", encodeURIComponent(name));
      for (const slot of dialog.querySelectorAll("[data-fill=name]")) slot.textContent = name;
      const input = dialog.querySelector("input[data-must-equal]");
      if (input) {
        input.dataset.mustEqual = name;
        input.value = "";
        input.dispatchEvent(new Event("input"));
      }
      dialog.showModal();
      (input || dialog.querySelector("button[type=submit]")).focus();
    });
  }
  for (const button of document.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
}

document.addEventListener("DOMContentLoaded", () => {
  guardBusyForms();
  requireTypedNames();
  openDialogs();
});
