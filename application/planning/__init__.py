"""Planning: the balancer's runner and leadership, and the rules' step in every re-plan.

`balancer/` plans over frozen snapshots and `rules/` turns conditions into effects; this
package reads the department into a snapshot, lets the active rules adjust it, plans, validates
and commits the difference (`runner`), elects the one leader that may do so (`leadership`),
and answers "what would this rule set do" on the open studies (`whatif`) and on a simulated
day (`rule_simulation`, `day`).
"""
