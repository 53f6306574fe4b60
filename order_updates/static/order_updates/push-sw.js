/*
 * order_updates service worker: shows the Web Push notifications about orders.
 *
 * The app serves it at <prefix>/push/service-worker.js (URL name
 * "order_updates:push_service_worker") with "Service-Worker-Allowed: /".
 * The payload is JSON: {title, body, url, tag}.
 * A shop with a service worker of its own can load this one into it with
 * importScripts("/order-updates/push/service-worker.js"); it only adds "push"
 * and "notificationclick" listeners.
 */
"use strict";

(function (worker) {
  function readPayload(data) {
    if (!data) {
      return {};
    }
    try {
      const payload = data.json();
      return payload && typeof payload === "object" ? payload : {};
    } catch (error) {
      return { body: data.text() };
    }
  }

  // Only web pages: a payload cannot make a click open another kind of URL.
  function safeUrl(url) {
    try {
      const parsed = new URL(url || "/", worker.location.origin);
      if (parsed.protocol === "https:" || parsed.protocol === "http:") {
        return parsed.href;
      }
    } catch (error) {
      // Fall through to the site's home page.
    }
    return new URL("/", worker.location.origin).href;
  }

  function showUpdate(data) {
    const payload = readPayload(data);
    const options = {
      body: typeof payload.body === "string" ? payload.body : "",
      data: { url: safeUrl(payload.url) },
    };
    if (payload.tag) {
      // A newer update about the same order replaces the older one, and still
      // alerts the customer.
      options.tag = String(payload.tag);
      options.renotify = true;
    }
    // Browsers require a notification for every push message; never skip one.
    const title = payload.title ? String(payload.title) : worker.location.host;
    return worker.registration.showNotification(title, options);
  }

  async function openOrFocus(url) {
    const windows = await worker.clients.matchAll({
      type: "window",
      includeUncontrolled: true,
    });
    const open = windows.find(
      (client) => client.url === url && typeof client.focus === "function",
    );
    if (open) {
      return open.focus();
    }
    return worker.clients.openWindow(url);
  }

  worker.addEventListener("push", (event) => {
    event.waitUntil(showUpdate(event.data));
  });

  worker.addEventListener("notificationclick", (event) => {
    event.notification.close();
    const data = event.notification.data || {};
    event.waitUntil(openOrFocus(safeUrl(data.url)));
  });
})(self);
