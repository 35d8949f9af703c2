"""The committee's FAQ as admins change it, split by idea:

- ``service``: the transactions (read, create, update, retire, revert, import, proposals)
  and applying a change (this process's index, then the other workers');
- ``validation``: an entry from admin input, with the limits and the Chinese messages of
  what is wrong;
- ``texts``: the Chinese labels and the translation of the importer's English errors;
- ``diff``: what changed between two states of an entry, for people;
- ``filters``: an entry's validity state and the list's search and filters.

The console, the admin API and ``linli kb import`` share all of it."""
