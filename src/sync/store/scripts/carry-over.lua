-- Library, put before accept: what a new version inherits from the state it replaces at an
-- upstream. The ids the upstream holds for the record (the resources of the last version synced
-- there, which the new version updates in place), and an earlier push still in flight, which the
-- new version's push waits for so that an older write never lands after a newer one.
local function carryOver(p, st)
  if p.state == 'synced' and type(p.resources) == 'table' and next(p.resources) ~= nil then
    st.held = p.resources
    st.heldVersion = p.version
  elseif type(p.held) == 'table' and next(p.held) ~= nil then
    st.held = p.held
    st.heldVersion = p.heldVersion
  end
  if p.state == 'sending' and p.sendingUntil then
    st.earlierSending = {version = p.version, untilMs = p.sendingUntil}
  elseif p.earlierSending then
    st.earlierSending = p.earlierSending
  end
end
