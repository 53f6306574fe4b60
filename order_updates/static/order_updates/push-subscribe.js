/*
 * order_updates: the "Get updates in this browser" button of
 * order_updates/push_subscribe.html.
 *
 * Progressive enhancement: the snippet is rendered hidden and shown only when
 * this browser has the Push API and the site has a VAPID key. Permission is
 * asked for on a click, never on page load. Everything the script needs (URLs,
 * labels, messages, the guest token) comes from data-* attributes, so no inline
 * script is needed and a Content-Security-Policy may forbid them.
 */
"use strict";

(function () {
  const SELECTOR = "[data-order-updates-push]";

  function pushSupported() {
    return (
      window.isSecureContext !== false &&
      "serviceWorker" in navigator &&
      "PushManager" in window &&
      "Notification" in window
    );
  }

  function keyBytes(base64url) {
    const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
  }

  // A subscription made with an older VAPID key cannot receive our messages.
  function sameKey(subscription, key) {
    const current = subscription.options && subscription.options.applicationServerKey;
    if (!current) {
      return true; // the browser does not say: assume it matches
    }
    const bytes = new Uint8Array(current);
    return bytes.length === key.length && bytes.every((byte, i) => byte === key[i]);
  }

  function readCookie(name) {
    const prefix = name + "=";
    const found = document.cookie
      .split(";")
      .map((part) => part.trim())
      .find((part) => part.startsWith(prefix));
    return found ? decodeURIComponent(found.slice(prefix.length)) : "";
  }

  // Notification.requestPermission() returns a promise, or (old Safari) takes a
  // callback.
  function requestPermission() {
    return new Promise((resolve) => {
      const promise = Notification.requestPermission(resolve);
      if (promise) {
        promise.then(resolve);
      }
    });
  }

  function activated(registration) {
    if (registration.active) {
      return Promise.resolve(registration);
    }
    const worker = registration.installing || registration.waiting;
    return new Promise((resolve, reject) => {
      if (!worker) {
        reject(new Error("The service worker did not install."));
        return;
      }
      worker.addEventListener("statechange", () => {
        if (worker.state === "activated") {
          resolve(registration);
        } else if (worker.state === "redundant") {
          reject(new Error("The service worker did not install."));
        }
      });
    });
  }

  class PushButton {
    constructor(root) {
      this.root = root;
      this.data = root.dataset;
      this.button = root.querySelector("[data-order-updates-push-button]");
      this.status = root.querySelector("[data-order-updates-push-status]");
      this.busy = false;
      this.subscribed = false;
    }

    async start() {
      if (!pushSupported() || !this.button || !this.status) {
        return; // stays hidden
      }
      const key = await this.fetchKey();
      if (!key) {
        return;
      }
      this.key = keyBytes(key);
      const registration = await navigator.serviceWorker.getRegistration(
        this.data.scope || this.data.serviceWorkerUrl,
      );
      const subscription = registration
        ? await registration.pushManager.getSubscription()
        : null;
      this.show(Boolean(subscription && sameKey(subscription, this.key)));
      this.button.addEventListener("click", () => this.toggle());
      this.root.hidden = false;
    }

    async fetchKey() {
      try {
        const response = await fetch(this.data.keyUrl, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (!response.ok) {
          return "";
        }
        return (await response.json()).publicKey || "";
      } catch (error) {
        return "";
      }
    }

    show(subscribed) {
      this.subscribed = subscribed;
      this.root.dataset.state = subscribed ? "subscribed" : "unsubscribed";
      this.button.textContent = subscribed
        ? this.data.labelUnsubscribe
        : this.data.labelSubscribe;
    }

    say(message) {
      this.status.textContent = message || "";
    }

    // Must run straight from the click: browsers grant the permission prompt
    // only to a user gesture, so subscribe() asks before its first await.
    toggle() {
      if (this.busy) {
        return Promise.resolve();
      }
      this.busy = true;
      this.root.setAttribute("aria-busy", "true");
      const work = this.subscribed ? this.unsubscribe() : this.subscribe();
      return work
        .catch((error) => {
          console.warn("order_updates push:", error);
          this.say(this.data.messageError);
        })
        .finally(() => {
          this.busy = false;
          this.root.removeAttribute("aria-busy");
        });
    }

    async subscribe() {
      const permission = await requestPermission();
      if (permission !== "granted") {
        this.say(this.data.messageDenied);
        return;
      }
      this.say(this.data.messageWorking);
      const registration = await activated(
        await navigator.serviceWorker.register(
          this.data.serviceWorkerUrl,
          this.data.scope ? { scope: this.data.scope } : undefined,
        ),
      );
      let subscription = await registration.pushManager.getSubscription();
      if (subscription && !sameKey(subscription, this.key)) {
        await subscription.unsubscribe();
        subscription = null;
      }
      if (!subscription) {
        subscription = await registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: this.key,
        });
      }
      const response = await this.post(
        this.data.subscriptionsUrl,
        subscription.toJSON(),
      );
      if (!response.ok) {
        // Keep the browser and the shop in step: no subscription nobody sends to.
        await subscription.unsubscribe();
        throw new Error("The shop refused the subscription: " + response.status);
      }
      this.show(true);
      this.say(this.data.messageSubscribed);
    }

    async unsubscribe() {
      this.say(this.data.messageWorking);
      const registration = await navigator.serviceWorker.getRegistration(
        this.data.scope || this.data.serviceWorkerUrl,
      );
      const subscription = registration
        ? await registration.pushManager.getSubscription()
        : null;
      if (subscription) {
        try {
          await this.post(this.data.deleteUrl, { endpoint: subscription.endpoint });
        } finally {
          // Even if the shop could not be told: once the browser unsubscribes,
          // the push service answers 410 and the shop forgets the endpoint.
          await subscription.unsubscribe();
        }
      }
      this.show(false);
      this.say(this.data.messageUnsubscribed);
    }

    post(url, body) {
      const headers = {
        "Content-Type": "application/json",
        Accept: "application/json",
      };
      const csrfToken =
        (this.data.csrfToken !== "NOTPROVIDED" && this.data.csrfToken) ||
        readCookie(this.data.csrfCookie || "csrftoken");
      if (csrfToken) {
        headers["X-CSRFToken"] = csrfToken;
      }
      if (this.data.token) {
        body = Object.assign({}, body, { token: this.data.token });
      }
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: headers,
        body: JSON.stringify(body),
      });
    }
  }

  function startAll() {
    document.querySelectorAll(SELECTOR).forEach((root) => {
      if (root.dataset.orderUpdatesPushReady) {
        return; // the snippet is on the page twice: the script runs twice
      }
      root.dataset.orderUpdatesPushReady = "1";
      new PushButton(root).start().catch((error) => {
        console.warn("order_updates push:", error);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
