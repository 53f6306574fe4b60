/*
 * Runs order_updates' push scripts in Node with the browser APIs they use faked
 * (DOM, Notification, service worker registration, PushManager). fetch() is
 * Node's own, sent to the Django live server the test started, so the requests
 * the script makes meet the real views. Used by tests/test_push_subscriptions.py.
 *
 *   node tests/push_js_harness.js < config.json   (prints a JSON report)
 *
 * config.scenario is "button" (push-subscribe.js) or "worker" (push-sw.js).
 */
"use strict";

const fs = require("fs");
const vm = require("vm");

function b64url(bytes) {
  return Buffer.from(bytes).toString("base64url");
}

function tick() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function until(condition, what) {
  for (let i = 0; i < 500; i++) {
    if (condition()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("Timed out waiting for " + what);
}

function element(extra) {
  const listeners = {};
  const attributes = {};
  return Object.assign(
    {
      textContent: "",
      hidden: false,
      listeners,
      attributes,
      addEventListener(type, listener) {
        (listeners[type] = listeners[type] || []).push(listener);
      },
      setAttribute(name, value) {
        attributes[name] = String(value);
      },
      removeAttribute(name) {
        delete attributes[name];
      },
      // What a click runs; the listeners' promises, so the test can wait.
      click() {
        return Promise.all((listeners.click || []).map((listener) => listener()));
      },
    },
    extra,
  );
}

async function runButton(config) {
  const report = { requests: [], permissionRequests: 0, registered: [] };
  const browser = { subscription: null, registration: null };

  const button = element();
  const status = element();
  const root = element({
    hidden: true,
    dataset: Object.assign({}, config.dataset),
    querySelector(selector) {
      if (selector === "[data-order-updates-push-button]") return button;
      if (selector === "[data-order-updates-push-status]") return status;
      return null;
    },
  });

  function makeSubscription(applicationServerKey) {
    const key = new Uint8Array(applicationServerKey);
    return {
      endpoint: config.endpoint,
      options: { applicationServerKey: key.buffer.slice(0) },
      toJSON() {
        return {
          endpoint: config.endpoint,
          expirationTime: null,
          keys: { p256dh: config.p256dh, auth: config.auth },
        };
      },
      unsubscribe() {
        report.browserUnsubscribed = true;
        browser.subscription = null;
        return Promise.resolve(true);
      },
    };
  }

  function makeRegistration(scope) {
    const worker = element({ state: "installing" });
    const registration = {
      scope,
      active: null,
      installing: worker,
      waiting: null,
      pushManager: {
        getSubscription: () => Promise.resolve(browser.subscription),
        subscribe(options) {
          report.subscribeOptions = {
            userVisibleOnly: options.userVisibleOnly,
            applicationServerKey: b64url(options.applicationServerKey),
          };
          browser.subscription = makeSubscription(options.applicationServerKey);
          return Promise.resolve(browser.subscription);
        },
      },
    };
    // The worker activates a little later, as in a browser.
    setTimeout(() => {
      worker.state = "activated";
      registration.active = worker;
      registration.installing = null;
      (worker.listeners.statechange || []).forEach((listener) => listener());
    }, 5);
    return registration;
  }

  if (config.existingSubscriptionKey) {
    browser.registration = makeRegistration("/");
    browser.subscription = makeSubscription(
      Buffer.from(config.existingSubscriptionKey, "base64url"),
    );
  }

  const navigator = {};
  if (config.supported) {
    navigator.serviceWorker = {
      register(url, options) {
        report.registered.push({ url, scope: options ? options.scope : null });
        if (!browser.registration) {
          browser.registration = makeRegistration((options && options.scope) || url);
        }
        return Promise.resolve(browser.registration);
      },
      getRegistration() {
        return Promise.resolve(browser.registration || undefined);
      },
    };
  }

  const Notification = {
    permission: "default",
    requestPermission() {
      report.permissionRequests += 1;
      Notification.permission = config.permissionAnswer;
      return Promise.resolve(config.permissionAnswer);
    },
  };

  async function fakeFetch(url, options) {
    options = options || {};
    const headers = Object.assign({}, options.headers);
    if (config.cookieHeader) {
      headers.Cookie = config.cookieHeader;
    }
    const response = await fetch(new URL(url, config.base), {
      method: options.method || "GET",
      headers,
      body: options.body,
    });
    const text = await response.text();
    report.requests.push({
      url,
      method: options.method || "GET",
      headers: options.headers || {},
      body: options.body ? JSON.parse(options.body) : null,
      status: response.status,
      response: text ? JSON.parse(text) : null,
    });
    return {
      ok: response.ok,
      status: response.status,
      json: async () => JSON.parse(text),
    };
  }

  const window = {
    isSecureContext: true,
    document: {
      readyState: "complete",
      cookie: config.documentCookie || "",
      querySelectorAll: (selector) =>
        selector === "[data-order-updates-push]" ? [root] : [],
      addEventListener() {},
    },
    navigator,
    fetch: fakeFetch,
    // What a vm context lacks and a browser has.
    atob,
    console,
    setTimeout,
  };
  if (config.supported) {
    window.PushManager = function PushManager() {};
    window.Notification = Notification;
  }
  window.window = window;
  const context = vm.createContext(window);
  vm.runInContext(fs.readFileSync(config.script, "utf8"), context, {
    filename: config.script,
  });

  // Loading the page: the script fetches the key and shows the button (or not).
  await tick();
  await until(
    () =>
      !config.supported ||
      !root.hidden ||
      (report.requests.length > 0 && report.requests[0].status !== 200),
    "the script to start",
  );
  await tick();
  await tick();
  report.load = {
    hidden: root.hidden,
    button: button.textContent,
    state: root.dataset.state || null,
    permissionRequests: report.permissionRequests,
    requests: report.requests.length,
    registered: report.registered.length,
  };
  report.steps = [];
  for (let i = 0; i < (config.clicks || 0); i++) {
    await button.click();
    report.steps.push({
      button: button.textContent,
      status: status.textContent,
      state: root.dataset.state,
      busy: "aria-busy" in root.attributes,
      browserSubscribed: Boolean(browser.subscription),
    });
  }
  return report;
}

async function runWorker(config) {
  const report = { notifications: [], opened: [], focused: [], closed: 0 };
  const listeners = {};
  const clientWindows = (config.openWindows || []).map((url) => ({
    url,
    focus() {
      report.focused.push(url);
      return Promise.resolve(this);
    },
  }));
  const self = {
    location: new URL(config.origin + "/order-updates/push/service-worker.js"),
    addEventListener(type, listener) {
      listeners[type] = listener;
    },
    registration: {
      showNotification(title, options) {
        report.notifications.push({ title, options });
        return Promise.resolve();
      },
    },
    clients: {
      matchAll: () => Promise.resolve(clientWindows),
      openWindow(url) {
        report.opened.push(url);
        return Promise.resolve(null);
      },
    },
    URL,
  };
  self.self = self;
  vm.runInContext(fs.readFileSync(config.script, "utf8"), vm.createContext(self), {
    filename: config.script,
  });
  report.listeners = Object.keys(listeners).sort();

  async function dispatch(type, event) {
    const pending = [];
    event.waitUntil = (promise) => pending.push(promise);
    listeners[type](event);
    await Promise.all(pending);
  }

  for (const push of config.pushes || []) {
    const data =
      push === null
        ? null
        : {
            json: () => JSON.parse(push),
            text: () => push,
          };
    await dispatch("push", { data });
  }
  for (const url of config.clicks || []) {
    await dispatch("notificationclick", {
      notification: {
        data: { url },
        close() {
          report.closed += 1;
        },
      },
    });
  }
  return report;
}

async function main() {
  const config = JSON.parse(fs.readFileSync(0, "utf8"));
  const run = config.scenario === "worker" ? runWorker : runButton;
  process.stdout.write(JSON.stringify(await run(config)));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(1);
});
