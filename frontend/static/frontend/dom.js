/**
 * dom.js: how the page's scripts build elements. Note text enters the page
 * through here as textContent, never as HTML, so a title like
 * "<img src=x onerror=alert(1)>" shows exactly those characters.
 */

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
