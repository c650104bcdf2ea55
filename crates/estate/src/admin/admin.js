// Estate admin: the widgets that need a script. Each one enhances an
// ordinary control the server rendered, so the form still submits the same
// fields; nothing here builds HTML from strings (text goes in textContent).
//
//   select[data-autocomplete]   a search box over a related table
//   select[data-selector]       the two-pane many-to-many selector
//   input[data-prepopulate]     a slug filled in from other fields
'use strict';

(function () {
  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, value);
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  // The visible control takes over the select's label and descriptions.
  function takeOver(select, control) {
    const label = document.querySelector('label[for="' + CSS.escape(select.id) + '"]');
    if (label) {
      label.htmlFor = control.id;
    }
    for (const name of ['aria-describedby', 'aria-invalid']) {
      if (select.hasAttribute(name)) {
        control.setAttribute(name, select.getAttribute(name));
      }
    }
    control.disabled = select.disabled;
    select.hidden = true;
  }

  // --- Autocomplete ------------------------------------------------------
  // A combobox (WAI-ARIA 1.2 pattern): type to search, arrows to move,
  // Enter to choose, Escape to close. The chosen rows are the select's
  // selected options, shown as a list with a remove button each.
  function autocomplete(select) {
    const many = select.multiple;
    const url = select.dataset.autocomplete;
    const wrapper = element('div', { class: 'autocomplete' });
    const chosen = element('ul', { class: 'autocomplete-chosen', 'aria-live': 'polite' });
    const box = element('input', {
      type: 'text',
      id: select.id + '_search',
      role: 'combobox',
      autocomplete: 'off',
      'aria-autocomplete': 'list',
      'aria-expanded': 'false',
      'aria-controls': select.id + '_results',
      placeholder: 'Search…',
    });
    const list = element('ul', { id: select.id + '_results', role: 'listbox', class: 'autocomplete-results' });
    list.hidden = true;
    takeOver(select, box);
    wrapper.append(chosen, box, list);
    select.after(wrapper);

    let term = '';
    let page = 1;
    let active = -1;
    let request = 0;
    let timer = null;

    function showChosen() {
      chosen.replaceChildren();
      for (const option of select.options) {
        if (!option.selected || option.value === '') {
          continue;
        }
        const item = element('li', {}, option.textContent + ' ');
        const remove = element('button', { type: 'button', class: 'remove', 'aria-label': 'Remove ' + option.textContent }, '×');
        remove.disabled = select.disabled;
        remove.addEventListener('click', function () {
          option.selected = false;
          option.remove();
          showChosen();
          select.dispatchEvent(new Event('change', { bubbles: true }));
          box.focus();
        });
        item.append(remove);
        chosen.append(item);
      }
    }

    function options() {
      return Array.from(list.querySelectorAll('[role=option]:not([aria-disabled=true])'));
    }

    function close() {
      list.hidden = true;
      box.setAttribute('aria-expanded', 'false');
      box.removeAttribute('aria-activedescendant');
      active = -1;
    }

    function highlight(index) {
      const all = options();
      if (all.length === 0) {
        return;
      }
      active = (index + all.length) % all.length;
      all.forEach(function (option, i) {
        option.setAttribute('aria-selected', i === active ? 'true' : 'false');
      });
      box.setAttribute('aria-activedescendant', all[active].id);
      all[active].scrollIntoView({ block: 'nearest' });
    }

    function choose(option) {
      if (option.dataset.more) {
        page += 1;
        search(false);
        return;
      }
      const id = option.dataset.id;
      if (!many) {
        for (const existing of Array.from(select.options)) {
          if (existing.value !== '') {
            existing.remove();
          }
        }
      }
      let existing = Array.from(select.options).find(function (o) { return o.value === id; });
      if (!existing) {
        existing = new Option(option.textContent, id, true, true);
        select.add(existing);
      }
      existing.selected = true;
      showChosen();
      box.value = '';
      close();
      select.dispatchEvent(new Event('change', { bubbles: true }));
    }

    async function search(fresh) {
      const mine = ++request;
      const address = url + '&term=' + encodeURIComponent(term) + '&page=' + page;
      let body;
      try {
        const response = await fetch(address, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
        if (!response.ok) {
          throw new Error(response.status);
        }
        body = await response.json();
      } catch (error) {
        body = null;
      }
      if (mine !== request) {
        return; // A newer search answered first.
      }
      if (fresh) {
        list.replaceChildren();
      }
      const more = list.querySelector('[data-more]');
      if (more) {
        more.remove();
      }
      const start = list.children.length;
      if (body === null) {
        list.append(element('li', { role: 'option', 'aria-disabled': 'true', id: select.id + '_none' }, 'The search failed; try again.'));
      } else {
        body.results.forEach(function (row, i) {
          const option = element('li', { role: 'option', id: select.id + '_option_' + (start + i), 'aria-selected': 'false' }, row.text);
          option.dataset.id = row.id;
          list.append(option);
        });
        if (body.pagination && body.pagination.more) {
          const option = element('li', { role: 'option', id: select.id + '_more', class: 'more', 'aria-selected': 'false' }, 'More results…');
          option.dataset.more = '1';
          list.append(option);
        }
        if (list.children.length === 0) {
          list.append(element('li', { role: 'option', 'aria-disabled': 'true', id: select.id + '_none' }, 'No results found.'));
        }
      }
      if (document.activeElement !== box) {
        return; // The box lost the focus while the search ran.
      }
      list.hidden = false;
      box.setAttribute('aria-expanded', 'true');
      // The first result is highlighted, so Enter picks it (as in Django's
      // admin) instead of submitting the form.
      active = -1;
      highlight(fresh ? 0 : start);
    }

    function searchSoon() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        term = box.value.trim();
        page = 1;
        search(true);
      }, 250);
    }

    box.addEventListener('input', searchSoon);
    box.addEventListener('click', function () {
      if (list.hidden) {
        searchSoon();
      }
    });
    box.addEventListener('keydown', function (event) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        if (list.hidden) {
          searchSoon();
        } else {
          highlight(active + (event.key === 'ArrowDown' ? 1 : -1));
        }
      } else if (event.key === 'Enter') {
        if (!list.hidden && active >= 0) {
          event.preventDefault(); // Choose, do not submit the form.
          choose(options()[active]);
        }
      } else if (event.key === 'Escape') {
        if (!list.hidden) {
          event.preventDefault();
          close();
        }
      }
    });
    box.addEventListener('blur', function () {
      clearTimeout(timer);
      request += 1; // Answers to searches still running are dropped.
      setTimeout(close, 150);
    });
    // mousedown, not click: the box keeps the focus.
    list.addEventListener('mousedown', function (event) {
      const option = event.target.closest('[role=option]');
      event.preventDefault();
      if (option && option.getAttribute('aria-disabled') !== 'true') {
        choose(option);
      }
    });
    showChosen();
  }

  // --- Two-pane selector ---------------------------------------------------
  // "Available" (with a filter) and "Chosen" lists; the hidden select keeps
  // what is submitted. Double-click or Enter moves a row; buttons move the
  // highlighted rows or all of them.
  function selector(select) {
    const name = select.dataset.selector;
    const wrapper = element('div', { class: 'selector' });
    const pane = function (kind, title) {
      const box = element('div', { class: 'selector-' + kind });
      const heading = element('h4', { id: select.id + '_' + kind + '_title' }, title);
      const list = element('select', { multiple: '', size: '10', id: select.id + '_' + kind, 'aria-labelledby': heading.id });
      box.append(heading);
      return { box: box, list: list };
    };
    const available = pane('available', 'Available ' + name);
    const chosen = pane('chosen', 'Chosen ' + name);
    const filter = element('input', { type: 'search', id: select.id + '_filter', placeholder: 'Filter', 'aria-label': 'Filter available ' + name });
    available.box.append(filter, available.list);
    chosen.box.append(chosen.list);
    const button = function (text, label) {
      return element('button', { type: 'button', class: 'secondary', 'aria-label': label }, text);
    };
    const add = button('Choose →', 'Choose the highlighted ' + name);
    const remove = button('← Remove', 'Remove the highlighted ' + name);
    const addAll = button('Choose all', 'Choose all ' + name);
    const removeAll = button('Remove all', 'Remove all ' + name);
    const buttons = element('div', { class: 'selector-buttons' });
    buttons.append(add, remove, addAll, removeAll);
    wrapper.append(available.box, buttons, chosen.box);
    takeOver(select, available.list);
    for (const control of [chosen.list, filter, add, remove, addAll, removeAll]) {
      control.disabled = select.disabled;
    }
    select.after(wrapper);

    function refill() {
      const text = filter.value.trim().toLowerCase();
      available.list.replaceChildren();
      chosen.list.replaceChildren();
      for (const option of select.options) {
        const copy = new Option(option.textContent, option.value);
        if (option.selected) {
          chosen.list.add(copy);
        } else if (option.textContent.toLowerCase().includes(text)) {
          available.list.add(copy);
        }
      }
    }

    function move(from, all, selected) {
      const values = new Set(Array.from(from.options).filter(function (o) { return all || o.selected; }).map(function (o) { return o.value; }));
      for (const option of select.options) {
        if (values.has(option.value)) {
          option.selected = selected;
        }
      }
      refill();
      select.dispatchEvent(new Event('change', { bubbles: true }));
    }

    add.addEventListener('click', function () { move(available.list, false, true); });
    remove.addEventListener('click', function () { move(chosen.list, false, false); });
    addAll.addEventListener('click', function () { move(available.list, true, true); });
    removeAll.addEventListener('click', function () { move(chosen.list, true, false); });
    available.list.addEventListener('dblclick', function () { move(available.list, false, true); });
    chosen.list.addEventListener('dblclick', function () { move(chosen.list, false, false); });
    available.list.addEventListener('keydown', function (event) {
      if (event.key === 'Enter') {
        event.preventDefault();
        move(available.list, false, true);
      }
    });
    chosen.list.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' || event.key === 'Delete' || event.key === 'Backspace') {
        event.preventDefault();
        move(chosen.list, false, false);
      }
    });
    filter.addEventListener('input', refill);
    filter.addEventListener('keydown', function (event) {
      if (event.key === 'Enter') {
        event.preventDefault(); // Filtering never submits the form.
      }
    });
    refill();
  }

  // --- Prepopulated slugs --------------------------------------------------
  // Django's URLify: accents dropped, lowercase, words joined by hyphens,
  // cut to the field's maxlength. Only an empty field is filled, and only
  // until someone types into it.
  function slugify(text, length) {
    return text
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^-\w\s]/g, '')
      .trim()
      .replace(/[-\s]+/g, '-')
      .substring(0, length)
      .replace(/-+$/g, '');
  }

  function prepopulate(field) {
    if (field.value !== '' || !field.form) {
      return;
    }
    const length = parseInt(field.getAttribute('maxlength'), 10) || 50;
    const sources = field.dataset.prepopulate
      .split(' ')
      .map(function (name) { return field.form.elements.namedItem(name); })
      .filter(Boolean);
    let edited = false;
    field.addEventListener('input', function () { edited = true; });
    const fill = function () {
      if (!edited) {
        field.value = slugify(sources.map(function (s) { return s.value; }).join(' '), length);
      }
    };
    for (const source of sources) {
      source.addEventListener('input', fill);
      source.addEventListener('change', fill);
    }
  }

  // Enhances the controls under `root` that are not enhanced yet.
  function enhance(root) {
    const each = function (selector, enhancer) {
      root.querySelectorAll(selector).forEach(function (control) {
        if (!control.dataset.enhanced) {
          control.dataset.enhanced = '1';
          enhancer(control);
        }
      });
    };
    each('select[data-autocomplete]', autocomplete);
    each('select[multiple][data-selector]', selector);
    each('[data-prepopulate]', prepopulate);
  }

  // For pages that add form rows of their own (htmx, custom scripts):
  // `estateAdmin.enhance(element)` after inserting them.
  window.estateAdmin = { enhance: enhance };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () { enhance(document); });
  } else {
    enhance(document);
  }
})();
