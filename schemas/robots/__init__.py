"""The robots: one folder per concern a new robot touches (see README.md here).

`registry` (embodiments and the joint-space table), `eef_offsets` (TCP -> wrist per recorded EEF point), `joint_space`
(the fields of a joint-space spec) with the robots' data (`joint_space.yaml`, and `bimanual`), dexterous hands (`hands`
+ `hands.yaml`) and the URDFs `ingest.kinematics` loads (`descriptions/`). Import from the module that holds a name."""
