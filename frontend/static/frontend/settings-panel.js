/**
 * settings-panel.js: the bell's small settings panel — mute a kind, choose
 * where notes reach you (pop-ups, desktop, email; for every kind, or off for
 * one kind), turn desktop notifications on in this browser, do not disturb
 * for an hour, count muted notes as unread.
 *
 * Changes go over the socket (a "preferences" frame); what the panel shows
 * is only ever what the server last said ("preferences" frames, which every
 * tab of the user gets), so all tabs agree. Kinds are shown as text only.
 * The desktop button is per browser (desktop.js): it alone may make the
 * browser ask for the permission, and only when pressed.
 */

import { ON, OFF, DENIED } from "./desktop.js";
import { element } from "./dom.js";
import { Channel } from "./protocol.js";

const ALL_KINDS = "*";

export class SettingsPanel {
  #form;
  #toggle;
  #muted;
  #kind;
  #quiet;
  #count;
  #channels;
  #exceptions;
  #client;
  #strings;
  #desktop;
  #desktopButton;
  #desktopStatus;

  constructor(root, { client, strings, desktop = null }) {
    this.#form = root.querySelector("#notes-settings");
    this.#toggle = root.querySelector("#notes-settings-toggle");
    this.#muted = root.querySelector("#notes-settings-muted");
    this.#kind = root.querySelector("#notes-settings-kind");
    this.#quiet = root.querySelector("#notes-settings-quiet");
    this.#count = root.querySelector("#notes-settings-count");
    this.#channels = [...root.querySelectorAll("input[data-channel]")];
    this.#exceptions = root.querySelector("#notes-settings-exceptions");
    this.#desktopButton = root.querySelector("#notes-desktop-toggle");
    this.#desktopStatus = root.querySelector("#notes-desktop-status");
    this.#client = client;
    this.#strings = strings;
    this.#desktop = desktop;
    this.#toggle.addEventListener("click", () => {
      this.#form.hidden = !this.#form.hidden;
      this.#toggle.setAttribute("aria-expanded", String(!this.#form.hidden));
      if (!this.#form.hidden) this.#kind.focus();
    });
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      const kind = this.#kind.value.trim();
      if (kind && this.#client.setPreferences({ mute: [kind] })) this.#kind.value = "";
    });
    for (const button of root.querySelectorAll("button[data-channel]")) {
      button.addEventListener("click", () => {
        const kind = this.#kind.value.trim();
        const change = { channels: { [kind]: { [button.dataset.channel]: false } } };
        if (kind && this.#client.setPreferences(change)) this.#kind.value = "";
      });
    }
    for (const box of this.#channels) {
      box.addEventListener("change", () =>
        this.#client.setPreferences({
          channels: { [ALL_KINDS]: { [box.dataset.channel]: box.checked } },
        }),
      );
    }
    this.#quiet.addEventListener("change", () =>
      this.#client.setPreferences({ quiet_minutes: this.#quiet.checked ? 60 : 0 }),
    );
    this.#count.addEventListener("change", () =>
      this.#client.setPreferences({ count_muted: this.#count.checked }),
    );
    if (desktop && this.#desktopButton) {
      this.#desktopButton.addEventListener("click", () =>
        desktop.state === ON ? desktop.turnOff() : desktop.turnOn(),
      );
      desktop.addEventListener("state", () => this.#showDesktop());
      this.#showDesktop();
    }
  }

  /** Show the preferences the server sent (hello or a "preferences" frame). */
  show(preferences) {
    const muted = preferences.muted ?? [];
    this.#muted.replaceChildren(
      ...muted.map((kind) => this.#item(kind, kind, { unmute: [kind] }, this.#strings.unmute)),
    );
    const channels = preferences.channels ?? {};
    const defaults = preferences.channel_defaults ?? {};
    for (const box of this.#channels) {
      const chosen = channels[ALL_KINDS]?.[box.dataset.channel];
      box.checked = chosen ?? (defaults[ALL_KINDS] ?? Object.values(Channel)).includes(box.dataset.channel);
    }
    // One line per kind with a channel turned off: "chat: not by desktop" [Reset].
    this.#exceptions.replaceChildren(
      ...Object.entries(channels)
        .filter(([kind, choice]) => kind !== ALL_KINDS && Object.values(choice).includes(false))
        .map(([kind, choice]) => {
          const off = Object.keys(choice).filter((c) => choice[c] === false);
          const names = off.map((c) => this.#strings.channelNames?.[c] ?? c).join(", ");
          const text = this.#strings.channelsOff
            .replace("%(kind)s", kind)
            .replace("%(channels)s", names);
          const reset = Object.fromEntries(Object.keys(choice).map((c) => [c, null]));
          return this.#item(text, kind, { channels: { [kind]: reset } }, this.#strings.reset);
        }),
    );
    this.#quiet.checked = Boolean(preferences.quiet_until);
    this.#count.checked = Boolean(preferences.count_muted);
  }

  #item(text, kind, change, label) {
    const item = element("li", "notes-settings-kind", text);
    const button = element("button", "quiet", label);
    button.type = "button";
    button.setAttribute("aria-label", `${label}: ${kind}`);
    button.addEventListener("click", () => this.#client.setPreferences(change));
    item.append(" ", button);
    return item;
  }

  #showDesktop() {
    const state = this.#desktop.state;
    const button = this.#desktopButton;
    button.hidden = state !== ON && state !== OFF;
    button.textContent = state === ON ? this.#strings.desktopTurnOff : this.#strings.desktopTurnOn;
    this.#desktopStatus.textContent = {
      [ON]: this.#strings.desktopOn,
      [OFF]: this.#strings.desktopOff,
      [DENIED]: this.#strings.desktopDenied,
    }[state] ?? this.#strings.desktopUnsupported;
    this.#desktopStatus.dataset.state = state;
  }
}
