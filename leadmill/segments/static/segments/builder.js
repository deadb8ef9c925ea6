/* Segment filter builder: condition rows (field / operator / value) that write the segment's
 * JSON definition into a hidden textarea, and the live size, asked (debounced) from the
 * back office's size endpoint as the marketer edits. Plain JavaScript, no dependencies. */
(function () {
  "use strict";

  var NO_VALUE = ["is_empty", "is_not_empty"];
  var LIST_OPS = ["in", "not_in"];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function select(options, value, label) {
    var node = el("select", { "aria-label": label });
    options.forEach(function (option) {
      var item = el("option", { value: option[0], text: option[1] });
      if (String(option[0]) === String(value)) item.selected = true;
      node.appendChild(item);
    });
    return node;
  }

  function input(type, value, label) {
    var node = el("input", { type: type, "aria-label": label });
    node.value = value === undefined || value === null ? "" : value;
    return node;
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function Builder(root) {
    this.root = root;
    this.textarea = document.getElementById(root.dataset.input);
    this.catalogue = JSON.parse(document.getElementById(root.dataset.catalogue).textContent);
    this.ui = JSON.parse(document.getElementById(root.dataset.ui).textContent);
    this.fields = {};
    this.catalogue.fields.forEach(function (field) { this.fields[field.key] = field; }, this);
    try { this.definition = JSON.parse(this.textarea.value || "{}"); } catch (e) { this.definition = {}; }
    if (!this.definition || typeof this.definition !== "object") this.definition = {};
    this.definition.match = this.definition.match || "all";
    this.definition.conditions = this.definition.conditions || [];
    this.timer = null;
    this.request = 0;

    var self = this;
    this.matchSelect = root.querySelector("[data-match]");
    this.matchSelect.value = this.definition.match;
    this.matchSelect.addEventListener("change", function () { self.definition.match = self.matchSelect.value; self.changed(); });
    root.querySelector("[data-add]").addEventListener("click", function () {
      var first = self.catalogue.fields[0];
      self.definition.conditions.push(self.blank(first.key));
      self.render();
      self.changed();
    });
    this.render();
    if (this.definition.conditions.length) this.refreshSize();
    // A static list has no filters: hide the builder while "Static list" is chosen.
    var kind = root.closest("form") && root.closest("form").querySelector("select[name=kind]");
    if (kind) {
      var toggle = function () { root.hidden = kind.value === "static"; };
      kind.addEventListener("change", toggle);
      toggle();
    }
  }

  Builder.prototype.blank = function (key) {
    var field = this.fields[key];
    if (field.kind === "event") return { field: key, event_type: field.choices[0][0], at_least: 1, within_days: 30 };
    if (field.kind === "consent" || field.kind === "segment") {
      return { field: key, value: field.choices.length ? field.choices[0][0] : "" };
    }
    var condition = { field: key, op: field.ops[0], value: "" };
    if (field.kind === "choice") condition.value = field.choices[0][0];
    return condition;
  };

  Builder.prototype.render = function () {
    var rows = this.root.querySelector("[data-rows]");
    rows.innerHTML = "";
    this.definition.conditions.forEach(function (condition, index) {
      rows.appendChild(this.row(condition, index));
    }, this);
  };

  Builder.prototype.row = function (condition, index) {
    var self = this;
    var item = el("li", { class: "segment-builder__row", "data-row": String(index) });
    var remove = el("button", { type: "button", class: "button button-small button-secondary no", text: this.ui.remove });
    remove.addEventListener("click", function () {
      self.definition.conditions.splice(index, 1);
      self.render();
      self.changed();
    });
    if (condition.conditions || !this.fields[condition.field]) {
      item.appendChild(el("span", { text: this.ui.group }));
      item.appendChild(remove);
      return item;
    }
    var field = this.fields[condition.field];
    var fieldSelect = select(this.catalogue.fields.map(function (f) { return [f.key, f.label]; }), field.key, field.label);
    fieldSelect.setAttribute("data-field", "");
    fieldSelect.addEventListener("change", function () {
      self.definition.conditions[index] = self.blank(fieldSelect.value);
      self.render();
      self.changed();
    });
    item.appendChild(fieldSelect);
    this.controls(condition, field).forEach(function (control) { item.appendChild(control); });
    item.appendChild(remove);
    return item;
  };

  Builder.prototype.bind = function (node, condition, key, transform) {
    var self = this;
    var update = function () {
      var value = node.value;
      if (transform) value = transform(value);
      if (value === undefined) delete condition[key]; else condition[key] = value;
      self.changed();
    };
    node.addEventListener("input", update);
    node.addEventListener("change", update);
    return node;
  };

  Builder.prototype.controls = function (condition, field) {
    var self = this, ui = this.ui, ops = this.catalogue.operators;
    var number = function (value) { return value === "" ? undefined : Number(value); };
    if (field.kind === "event") {
      var negate = select([["", ui.did], ["1", ui.did_not]], condition.negate ? "1" : "", ui.did);
      negate.addEventListener("change", function () {
        if (negate.value) condition.negate = true; else delete condition.negate;
        self.changed();
      });
      return [
        negate,
        this.bind(select(field.choices, condition.event_type, field.label), condition, "event_type"),
        this.bind(input("text", condition.url_contains, ui.url_contains), condition, "url_contains"),
        this.bind(input("text", condition.name_contains, ui.name_contains), condition, "name_contains"),
        this.bind(input("number", condition.at_least, ui.at_least), condition, "at_least", number),
        this.bind(input("number", condition.within_days, ui.within_days), condition, "within_days", number),
      ].map(function (node) {
        if (node.tagName === "INPUT") node.setAttribute("placeholder", node.getAttribute("aria-label"));
        return node;
      });
    }
    if (field.kind === "consent") {
      var has = select([["", ui.has], ["1", ui.has_not]], condition.negate ? "1" : "", ui.has);
      has.addEventListener("change", function () {
        if (has.value) condition.negate = true; else delete condition.negate;
        self.changed();
      });
      return [has, this.bind(select(field.choices, condition.value, field.label), condition, "value")];
    }
    if (field.kind === "segment") {
      return [this.bind(select(field.choices, condition.value, field.label), condition, "value", number)];
    }
    var opSelect = select(field.ops.map(function (op) { return [op, ops[op]]; }), condition.op, field.label);
    opSelect.setAttribute("data-op", "");
    opSelect.addEventListener("change", function () {
      condition.op = opSelect.value;
      if (NO_VALUE.indexOf(condition.op) >= 0) delete condition.value;
      self.render();
      self.changed();
    });
    var controls = [opSelect];
    if (NO_VALUE.indexOf(condition.op) >= 0) return controls;
    var value;
    if (field.kind === "choice" && LIST_OPS.indexOf(condition.op) >= 0) {
      value = select(field.choices, null, ui.value);
      value.multiple = true;
      var chosen = Array.isArray(condition.value) ? condition.value : [];
      Array.prototype.forEach.call(value.options, function (option) { option.selected = chosen.indexOf(option.value) >= 0; });
      value.addEventListener("change", function () {
        condition.value = Array.prototype.filter.call(value.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
        self.changed();
      });
    } else if (field.kind === "choice") {
      value = this.bind(select(field.choices, condition.value, ui.value), condition, "value");
    } else {
      var type = ["within_days", "older_than_days", "gt", "gte", "lt", "lte"].indexOf(condition.op) >= 0 ? "number"
        : ["before", "after"].indexOf(condition.op) >= 0 ? "date" : "text";
      var shown = Array.isArray(condition.value) ? condition.value.join(", ") : condition.value;
      value = this.bind(input(type, shown, ui.value), condition, "value", type === "number" ? number : null);
      if (type === "text" && field.suggestions && field.suggestions.length) {
        // The known names (e.g. sources) offered while typing; any other text still goes.
        var listId = "segment-suggestions-" + field.key.replace(/[^A-Za-z0-9_-]/g, "-");
        if (!document.getElementById(listId)) {
          var list = el("datalist", { id: listId });
          field.suggestions.forEach(function (name) { list.appendChild(el("option", { value: name })); });
          this.root.appendChild(list);
        }
        value.setAttribute("list", listId);
      }
    }
    value.setAttribute("data-value", "");
    controls.push(value);
    return controls;
  };

  Builder.prototype.changed = function () {
    this.textarea.value = JSON.stringify(this.definition);
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.refreshSize(); }, 400);
  };

  Builder.prototype.refreshSize = function () {
    var self = this, ui = this.ui, request = ++this.request;
    var size = this.root.querySelector("[data-size]"), errors = this.root.querySelector("[data-errors]");
    size.textContent = ui.counting;
    var body = { definition: this.definition };
    if (this.root.dataset.segmentId) body.segment_id = Number(this.root.dataset.segmentId);
    fetch(this.root.dataset.sizeUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (request !== self.request) return;  // a newer edit is being counted
        errors.innerHTML = "";
        if (typeof data.count === "number") {
          size.textContent = ui.leads.replace("%(count)s", data.count.toLocaleString());
          size.setAttribute("data-count", String(data.count));
        } else {
          size.textContent = "";
          size.removeAttribute("data-count");
          (data.errors || [ui.failed]).forEach(function (message) { errors.appendChild(el("li", { text: message })); });
        }
      })
      .catch(function () { if (request === self.request) size.textContent = ui.failed; });
  };

  function start() {
    document.querySelectorAll("[data-segment-builder]").forEach(function (root) {
      if (!root.builder) root.builder = new Builder(root);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
