// A list endpoint read a page at a time (`{items, next_cursor}`): the items
// read so far, the cursor of the next page (null when none follows), and the
// last read's error.

export function pagedList(api, pageSize) {
  const list = { items: null, nextCursor: null, error: null };

  /** Reads the first page of `path` with `params` into the list, or with `more` the next page after it. */
  list.load = async (path, { params = {}, more = false } = {}) => {
    const query = new URLSearchParams({ ...params, limit: String(pageSize) });
    if (more && list.nextCursor !== null) query.set("cursor", list.nextCursor);
    try {
      const page = await api.get(`${path}?${query}`);
      list.items = more ? [...list.items, ...page.items] : page.items;
      list.nextCursor = page.next_cursor ?? null;
      list.error = null;
    } catch (failure) {
      list.error = failure;
    }
  };

  return list;
}
