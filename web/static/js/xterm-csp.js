// xterm.js's DOM renderer writes its theme and cell sizes into <style> elements it creates at run
// time. The portal's Content-Security-Policy (style-src 'self', no 'unsafe-inline') forbids
// inline style blocks, and loosening it for the whole portal to please one widget is the wrong
// trade. Constructable stylesheets (document.adoptedStyleSheets) are not inline style blocks and
// are not governed by style-src, so this shim hands xterm an inert stand-in for each <style> it
// asks for: setting its text fills a constructed CSSStyleSheet, removing it drops the sheet.
//
// Installed once, before xterm is loaded; only document.createElement('style') is affected and
// nothing else in the portal creates <style> elements (the CSP would refuse them anyway).

let installed = false;

export function installXtermStyleShim() {
  if (installed) return;
  if (typeof CSSStyleSheet !== 'function' || !('adoptedStyleSheets' in Document.prototype)) return;
  installed = true;
  const original = Document.prototype.createElement;
  Document.prototype.createElement = function createElement(tagName, options) {
    if (String(tagName).toLowerCase() !== 'style') return original.call(this, tagName, options);
    return styleStandIn(this);
  };
}

function styleStandIn(doc) {
  const sheet = new CSSStyleSheet();
  let text = '';
  let adopted = false;
  // An unknown element renders nothing by itself; it is only a handle xterm can append/remove.
  const el = Document.prototype.createElement.call(doc, 'vigil-style');
  el.hidden = true;
  const adopt = () => {
    if (adopted) return;
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
    adopted = true;
  };
  const drop = () => {
    if (!adopted) return;
    doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
    adopted = false;
  };
  Object.defineProperty(el, 'textContent', {
    configurable: true,
    get: () => text,
    set: (value) => {
      text = value === null || value === undefined ? '' : String(value);
      sheet.replaceSync(text);
      adopt();
    },
  });
  Object.defineProperty(el, 'innerText', {
    configurable: true,
    get: () => text,
    set: (value) => { el.textContent = value; },
  });
  const remove = el.remove.bind(el);
  el.remove = () => { drop(); remove(); };
  return el;
}
